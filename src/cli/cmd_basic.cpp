// camscope train | predict | cam | layers
#include <cstdio>
#include <filesystem>

#include "camscope/data/class_ref.hpp"
#include "camscope/engine/train.hpp"
#include "camscope/image/cam_view.hpp"
#include "camscope/image/image.hpp"
#include "camscope/pipeline/cams.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/npy.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/strings.hpp"
#include "common.hpp"

namespace camscope::cli {

void register_train(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", "Train a built-in architecture on a dataset; saves one TorchScript file");
    auto data = std::make_shared<DataFlags>();
    auto spec = std::make_shared<SpecFlags>();
    auto opt = std::make_shared<TrainOptions>();
    auto threads = std::make_shared<int>(0);
    auto no_test = std::make_shared<bool>(false);
    data->add(*cmd, /*required=*/true, /*with_split=*/false);  // trains on "train", evaluates on "test"
    spec->add(*cmd);
    std::vector<std::string> archs{"auto"};
    for (const auto& a : builtin_archs()) archs.push_back(a.name);
    std::string arch_help = "architecture: auto (cnn for grey input, resnet20 for colour)";
    for (const auto& a : builtin_archs()) arch_help += "; " + a.name + ": " + a.summary;
    cmd->add_option("--arch", opt->arch, arch_help)->check(CLI::IsMember(archs))->capture_default_str();
    cmd->add_option("--epochs", opt->epochs, "training epochs")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--batch-size,-b", opt->batch_size, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--lr", opt->lr, "learning rate (default: adam 2e-2 for cnn, 2e-3 otherwise; sgd 0.1; cosine decay)")->check(positive());
    cmd->add_option("--optimizer", opt->optimizer, "sgd, adam or auto")->capture_default_str();
    cmd->add_option("--seed", opt->seed, "random seed (weights, shuffling, augmentation)")->capture_default_str();
    cmd->add_option("--limit", opt->limit, "train on the first N images only (0 = all)")->check(non_negative());
    cmd->add_option("--augment", opt->augment, "1: random crop + flip, 0: none, -1: auto (on for RGB)")
        ->capture_default_str()
        ->check(CLI::IsMember({-1, 0, 1}));
    cmd->add_option("--out,-o", opt->out, "model file to write (rewritten after every epoch)")->capture_default_str();
    cmd->add_option("--threads", *threads, "CPU threads (default: all cores; at most the core count)")->check(non_negative());
    cmd->add_flag("--no-test", *no_test, "skip the test-set evaluation after each epoch");
    cmd->callback([=] {
        const int n = apply_threads(*threads);
        OpenOptions oo;
        oo.format = data->format;
        oo.split = "train";
        auto train = open_dataset(data->path, oo);
        std::unique_ptr<Dataset> test;
        if (!*no_test) {
            try {
                oo.split = "test";
                test = open_dataset(data->path, oo);
            } catch (const Error& e) {
                if (!g_quiet) fprintf(stderr, "note: no test split (%s); training without evaluation\n", e.what());
            }
        }
        ModelInfo none;
        InputSpec s = resolve_input_spec(none, train->info(), spec->overrides());
        train->set_input_size(s.height, s.width);  // large images decode reduced
        if (test) test->set_input_size(s.height, s.width);
        opt->quiet = g_quiet;
        if (!g_quiet) fprintf(stderr, "%s: %zu training images, %zu classes; %d CPU threads\n", data->path.c_str(),
                              train->size(), train->num_classes(), n);
        auto res = train_builtin(*train, test.get(), s, *opt);
        printf("saved %s (%zu parameters)", res.path.c_str(), res.parameters);
        if (!res.epochs.empty() && res.epochs.back().test_accuracy >= 0)
            printf(", test accuracy %.2f%%", 100 * res.epochs.back().test_accuracy);
        printf("\n");
    });
}

void register_predict(CLI::App& app) {
    auto* cmd = app.add_subcommand("predict", "Predict a whole dataset; writes predictions.csv (index, label, pred, confidence, top-5)");
    auto run = std::make_shared<ModelRunFlags>();
    auto out = std::make_shared<std::string>("predictions.csv");
    auto limit = std::make_shared<size_t>(0);
    run->add(*cmd);
    cmd->add_option("--out,-o", *out, "CSV file to write")->capture_default_str();
    cmd->add_option("--limit", *limit, "first N images only (0 = all)")->check(non_negative());
    cmd->callback([=] {
        auto [ds, m, s] = open_model_run(*run);
        PassOptions po;
        po.batch_size = run->eng.batch_size;
        po.limit = *limit;
        po.progress = !g_quiet;
        auto res = run_pass(m, *ds, s, po);
        const auto names = class_names(m, *ds);
        std::string csv = "index,label,label_name,pred,pred_name,confidence,top5,top5_prob\n";
        size_t correct = 0;
        for (size_t i = 0; i < res.n; ++i) {
            const int p = res.pred(i);
            correct += p == res.labels[i];
            auto t5 = top_k(res, i, 5);
            std::vector<std::string> ids, probs;
            for (int c : t5) {
                ids.push_back(std::to_string(c));
                probs.push_back(format("%.6f", res.probs[i * res.num_classes + c]));
            }
            csv += format("%d,%d,%s,%d,%s,%.6f,%s,%s\n", res.indices[i], res.labels[i],
                          csv_field(names[res.labels[i]]).c_str(), p, csv_field(names[p]).c_str(), res.confidence(i),
                          join(ids, ";").c_str(), join(probs, ";").c_str());
        }
        write_file_atomic(*out, csv);
        printf("%zu images, top-1 accuracy %.2f%% (%.1f images/s); wrote %s\n", res.n,
               res.n ? 100.0 * correct / res.n : 0.0, res.seconds > 0 ? res.n / res.seconds : 0.0, out->c_str());
    });
}

void register_cam(CLI::App& app) {
    auto* cmd = app.add_subcommand("cam", "CAMs for chosen images and target classes: overlay PNGs + maps as .npy");
    auto run = std::make_shared<ModelRunFlags>();
    auto indices = std::make_shared<std::string>("0-7");
    auto targets = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"pred"});
    auto layers = std::make_shared<std::vector<std::string>>();
    auto method = std::make_shared<std::string>("gradcam");
    auto out = std::make_shared<std::string>("cams");
    auto raw = std::make_shared<bool>(false);
    auto opts = std::make_shared<CamOptionFlags>();
    run->add(*cmd);
    cmd->add_option("--index,-i", *indices, "dataset image indices, e.g. 0,5,10-20")->capture_default_str();
    cmd->add_option("--target,-t", *targets,
                    "target classes: pred (the prediction), true (the label), a class index or name; repeatable")
        ->capture_default_str();
    cmd->add_option("--layer,-l", *layers, "target layer path, e.g. layer4 or layer3.1.conv2 (default: automatic); repeatable");
    cmd->add_option("--method", *method, "CAM method: " + join(cam_methods(), ", "))->capture_default_str();
    cmd->add_option("--out,-o", *out, "output folder")->capture_default_str();
    cmd->add_flag("--raw", *raw, "keep unnormalised maps in cams.npy (no ReLU/min-max); PNGs are still normalised");
    auto contrast = std::make_shared<std::vector<std::string>>();
    cmd->add_option("--contrast", *contrast,
                    "finercam: the classes to explain the target against (true = the image's label, a class index or "
                    "name; repeatable; default: the 3 classes whose logits are closest to the target's)");
    opts->add(*cmd);
    cmd->callback([=] {
        auto [ds, m, s] = open_model_run(*run);
        // Everything the user typed is checked before the first file is written.
        const auto idx = parse_indices(*indices, ds->size());
        const auto names = class_names(m, *ds);
        const ClassList classes(names);
        std::vector<ClassRef> target_refs;  // pred, true (per image) or a fixed class
        for (const auto& t : *targets) target_refs.push_back(parse_class_ref(t, classes, "-t/--target: "));
        CamJob job;
        job.cam = opts->cam;
        job.cam.method = *method;
        for (const auto& r : target_refs) job.targets.push_back({r});
        check_cam_settings(job.cam, !contrast->empty());
        if (!contrast->empty()) {  // one list for every image; true: each image's label
            job.contrast.emplace_back();
            for (const auto& c : *contrast)
                job.contrast[0].push_back(c == "true" ? ClassRef{ClassRef::True, -1}
                                                      : ClassRef{ClassRef::Index, parse_class(c, classes, "--contrast: ")});
        }
        job.raw = *raw;
        job.batch_size = run->eng.batch_size;
        // Score-CAM / Ablation-CAM: one forward per (image, channel); show how far they are.
        auto bar = std::make_shared<std::unique_ptr<Progress>>();
        auto last = std::make_shared<long long>(0);
        job.on_forwards = [bar, last, label = *method](long long done, long long total) {
            if (!*bar || done < *last) {
                *bar = std::make_unique<Progress>(label + " forwards", static_cast<size_t>(total), !g_quiet);
                *last = 0;
            }
            (*bar)->advance(static_cast<size_t>(done - *last));
            *last = done;
        };
        for (const auto& l : *layers) job.cam.layers.push_back(m.resolve_layer(l, s));
        if (job.cam.layers.empty()) job.cam.layers.push_back(m.resolve_layer("", s));
        const CamImages images = dataset_images(*ds, idx);
        make_dirs(*out);
        const size_t hw = static_cast<size_t>(s.height) * s.width;
        std::string csv = "row,index,label,pred,confidence,target,target_name,png,degenerate\n";
        size_t blank = 0;  // maps with no positive evidence: a hatched stand-in PNG, degenerate=1 in cams.csv
        std::vector<float> all_maps;
        size_t rows = 0;
        // A failure in a later batch (an unreadable image, a NaN map) must not leave the overlays of
        // the earlier ones behind as if they were a result: they are removed again.
        struct RemoveUnlessKept {
            std::vector<std::string> files;
            bool keep = false;
            ~RemoveUnlessKept() {
                if (!keep)
                    for (const auto& f : files) std::remove(f.c_str());
            }
        } written;
        run_cam_job(m, images, s, job, [&](CamBatch& b) {
            const std::vector<float>& maps = *raw ? b.raw_at_input : b.at_input;
            for (auto& sample : b.samples)  // resized once per image, shown once per target
                if (sample.image.width != s.width || sample.image.height != s.height)
                    sample.image = resize_bilinear(sample.image, s.width, s.height);
            for (int t = 0; t < b.slots; ++t) {
                for (int i = 0; i < b.n; ++i) {
                    const size_t index = idx[b.start + i];
                    const int target = b.targets[t][i];
                    // Both parts are sanitised: "-t T-shirt/top" or a class name "../x" from a model's
                    // metadata must not name a path outside --out.
                    const std::string png = format("cam_%zu_%s_%s.png", index, sanitize_filename((*targets)[t]).c_str(),
                                                   sanitize_filename(names[target]).c_str());
                    const bool degenerate = b.blank(t, i);
                    blank += degenerate;
                    written.files.push_back(*out + "/" + png);
                    write_png(written.files.back(), view_cam(b.samples[i].image, b.map_at_input(t, i), s.height, s.width).image);
                    const size_t off = (static_cast<size_t>(t) * b.n + i) * hw;
                    all_maps.insert(all_maps.end(), maps.begin() + off, maps.begin() + off + hw);
                    csv += format("%zu,%zu,%d,%d,%.6f,%d,%s,%s,%d\n", rows++, index, b.labels[i], b.preds[i],
                                  b.probs[i * b.num_classes + b.preds[i]], target, csv_field(names[target]).c_str(),
                                  png.c_str(), degenerate ? 1 : 0);
                }
            }
        });
        written.files.push_back(*out + "/cams.npy");
        write_npy(*out + "/cams.npy", all_maps.data(),
                  {static_cast<std::int64_t>(rows), s.height, s.width});
        write_file_atomic(*out + "/cams.csv", csv);
        written.keep = true;
        printf("%zu CAMs (%s, layer %s) written to %s/ (PNG overlays, cams.npy %zux%dx%d, cams.csv)\n", rows,
               method->c_str(), layers_text(job.cam).c_str(), out->c_str(), rows, s.height, s.width);
        if (blank > 0)
            printf("%zu of the %zu maps have no positive evidence at %s (all zero after ReLU): hatched grey PNGs, "
                   "degenerate=1 in cams.csv\n",
                   blank, rows, layers_text(job.cam).c_str());
    });
}

void register_layers(CLI::App& app) {
    auto* cmd = app.add_subcommand("layers", "List a model's layers with their output shapes and layouts (candidate CAM targets)");
    auto model = std::make_shared<std::string>();
    auto data = std::make_shared<DataFlags>();
    auto spec = std::make_shared<SpecFlags>();
    auto channels = std::make_shared<int>(0);
    auto layout = std::make_shared<std::pair<std::string, std::string>>();
    auto logits = std::make_shared<std::string>();
    cmd->add_option("model", *model, "TorchScript model file")->required();
    data->add(*cmd, /*required=*/false);
    spec->add(*cmd);
    cmd->add_option("--channels", *channels, "input channels when neither the model nor --data tells");
    add_layout_flags(*cmd, layout->first, layout->second);
    add_logits_flag(*cmd, *logits);
    cmd->callback([=] {
        Model m = Model::load(*model, {.quiet = g_quiet, .layout = layout->first, .grid = layout->second, .logits = *logits});
        DatasetInfo di;
        std::unique_ptr<Dataset> ds;
        if (!data->path.empty()) {
            ds = data->open();
            di = ds->info();
        }
        if (*channels > 0) di.preset.channels = *channels;
        const SpecOverrides ov = spec->overrides();
        if (!m.info().input && !ov.height && (di.preset.height <= 0 || di.preset.width <= 0))
            throw UsageError("the input size is unknown: pass --data DATASET, or --input-size HxW and --channels C");
        const InputSpec s = resolve_input_spec(m.info(), di, ov);  // its own errors say what is wrong
        if (s.channels <= 0) throw UsageError("the input channels are unknown: pass --data DATASET or --channels C");
        const auto layers = m.layers(s);
        // The listing never fails for want of an automatic choice: it says why there is none.
        std::string chosen, why_none;
        try {
            chosen = m.resolve_layer("", s);
        } catch (const Error& e) {
            why_none = e.what();
        }
        size_t w = 5, t = 4, sh = 12, lw = 6;
        std::vector<std::string> shapes;
        for (const auto& l : layers) {
            std::vector<std::string> dims;
            for (auto d : l.shape) dims.push_back(std::to_string(d));
            shapes.push_back(dims.empty() ? "-" : join(dims, "x"));
            w = std::max(w, l.path.size());
            t = std::max(t, l.type.size());
            sh = std::max(sh, shapes.back().size());
            lw = std::max(lw, describe(l.layout).size());
        }
        printf("%-*s  %-*s  %-*s  %-*s  %s   (input 1x%dx%dx%d)\n", static_cast<int>(w), "layer", static_cast<int>(t),
               "type", static_cast<int>(sh), "output shape", static_cast<int>(lw), "layout", "evidence", s.channels,
               s.height, s.width);
        for (size_t i = 0; i < layers.size(); ++i) {
            const auto& l = layers[i];
            printf("%-*s  %-*s  %-*s  %-*s  %s%s\n", static_cast<int>(w), l.path.c_str(), static_cast<int>(t),
                   l.type.c_str(), static_cast<int>(sh), shapes[i].c_str(), static_cast<int>(lw),
                   describe(l.layout).c_str(), l.layout.evidence.c_str(),
                   l.path == chosen ? "   <- automatic CAM layer" : "");
        }
        if (!why_none.empty()) printf("no automatic CAM layer: %s\n", why_none.c_str());
        // --logits given: the element it chooses, checked by one forward (its errors name the choices).
        if (!logits->empty())
            printf("logits: output element '%s', %d classes\n", logits->c_str(), m.num_classes(s));
        if (!layout->first.empty() || !layout->second.empty()) {
            // What --layout/--grid make of each layer a CAM could be asked for.
            printf("\nwith --layout '%s' --grid '%s' (applied to the CAM's layer):\n", layout->first.c_str(),
                   layout->second.c_str());
            for (const auto& l : layers)
                if (!l.shape.empty())
                    printf("%-*s  %-*s  %s\n", static_cast<int>(w), l.path.c_str(), static_cast<int>(lw),
                           describe(l.forced).c_str(), l.forced.evidence.c_str());
        }
    });
}

}  // namespace camscope::cli

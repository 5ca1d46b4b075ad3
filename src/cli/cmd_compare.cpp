// camscope compare: two stores of the same data → compare.json + compare.html (torch-free).
#include <cstdio>
#include <filesystem>
#include <functional>

#include "camscope/report/compare.hpp"
#include "camscope/report/identity.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"
#include "common.hpp"

namespace camscope::cli {

void register_compare(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "compare", "Two models on the same data (the stores of two analyses): accuracy and ECE deltas with bootstrap "
                   "intervals, McNemar's test, what B fixed and broke per class and pair, where the CAMs moved");
    struct Args {
        std::string a, b, out, data;
        CompareOptions opt;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("store_a", a->a, "the first analysis (its report folder or store)")->required();
    cmd->add_option("store_b", a->b, "the second analysis, of the same images")->required();
    cmd->add_option("--out,-o", a->out, "folder for compare.json and compare.html")->required();
    cmd->add_option("--data,-d", a->data, "the dataset for the galleries, if not at the path the stores record");
    cmd->add_option("--bootstrap", a->opt.bootstrap,
                    "paired bootstrap resamples for the intervals (at least " + std::to_string(kMinBootstrap) + ")")
        ->capture_default_str();
    cmd->add_option("--seed", a->opt.seed, "bootstrap seed")->capture_default_str();
    cmd->callback([a] {
        namespace fs = std::filesystem;
        const Store sa = read_store(a->a), sb = read_store(a->b);
        const Comparison c = compare_stores(sa, sb, a->opt);
        std::error_code ec;
        if (fs::exists(a->out, ec) && !fs::is_empty(a->out, ec) && !fs::exists(fs::path(a->out) / "compare.json"))
            throw Error(where(a->out, "exists and holds files that are not a camscope comparison: choose a new or "
                                      "empty folder"));
        // The galleries show the dataset's images: read from the path the store records, or --data.
        std::unique_ptr<Dataset> ds;
        const std::string data = a->data.empty() ? sa.manifest.identity.data_path : a->data;
        try {
            OpenOptions oo;
            oo.split = sa.manifest.data_split;
            oo.format = sa.manifest.data_format_flag;
            ds = open_dataset(data, oo);
            // The very images the analyses were computed on (as `merge` checks): the class order
            // the stores use, then every label and image through the fingerprint.
            if (ds->info().class_names != sa.manifest.class_names)
                if (auto order = class_order_by_name(ds->info().class_names, sa.manifest.class_names))
                    ds = reorder_classes(std::move(ds), std::move(*order), sa.manifest.class_names);
            RunIdentity live;
            identify_dataset(live, *ds, data);
            if (auto d = dataset_difference(sa.manifest.identity, live,
                                            {"the analyses were computed on", "--data reads"}))
                throw Error(where(data, "is not the dataset the analyses were computed on:\n  " + *d +
                                            "\n(every label and image counts)"));
        } catch (const Error& e) {
            if (!a->data.empty()) throw;
            ds.reset();
            if (!g_quiet)
                fprintf(stderr, "note: no galleries of the fixed and broken images (%s); pass --data\n", e.what());
        }
        const bool galleries = ds != nullptr;
        StagedDir stage(a->out);
        std::function<Image(int)> image;
        if (galleries) {
            image = [&ds](int index) { return ds->get(static_cast<size_t>(index)).image; };
            write_file_atomic(stage.path() + "/fixed.png", compare_gallery_png(c, sa, sb, true, image));
            write_file_atomic(stage.path() + "/broken.png", compare_gallery_png(c, sa, sb, false, image));
        }
        // The explorer of the comparison (offline page): every image's paired predictions, the
        // galleries' images with both models' CAMs.
        for (const auto& f : compare_explorer_files(c, sa, sb, image)) {
            const fs::path p = fs::path(stage.path()) / "explorer" / f.name;
            make_dirs(p.parent_path().string());
            write_file_atomic(p.string(), f.bytes);
        }
        write_file_atomic(stage.path() + "/compare.html", compare_html(c, galleries));
        write_file_atomic(stage.path() + "/compare.json", compare_json(c, galleries));
        stage.commit();
        printf("A %s: top-1 %.2f%%, ECE %.2f%%\nB %s: top-1 %.2f%%, ECE %.2f%%\n", c.id_a.model_path.c_str(),
               100 * c.acc_a, 100 * c.ece_a, c.id_b.model_path.c_str(), 100 * c.acc_b, 100 * c.ece_b);
        printf("B - A: top-1 %+.2f pp [%+.2f, %+.2f], ECE %+.2f pp [%+.2f, %+.2f] (%.0f%% paired bootstrap)\n",
               100 * c.acc_delta.estimate, 100 * c.acc_delta.lo, 100 * c.acc_delta.hi, 100 * c.ece_delta.estimate,
               100 * c.ece_delta.lo, 100 * c.ece_delta.hi, 100 * c.level);
        printf("fixed %lld, broken %lld of %zu images; McNemar exact p = %.4g\ncomparison: %s/compare.html (explorer: "
               "%s/explorer/index.html)\n",
               c.fixed, c.broken, c.n, c.mcnemar_p_exact, a->out.c_str(), a->out.c_str());
    });
}

}  // namespace camscope::cli

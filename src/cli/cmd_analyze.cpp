// camscope analyze | demo
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "camscope/engine/train.hpp"
#include "camscope/pipeline/analyze.hpp"
#include "camscope/pipeline/measure.hpp"
#include "camscope/report/analysis.hpp"
#include "camscope/report/store.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"
#include "common.hpp"

namespace camscope::cli {

namespace {

struct AnalyzeArgs : ModelRunFlags {
    std::string out = "camscope-report", layer;  // --layer as given (resolved into cam_opts.cam.layers)
    CamOptionFlags cam_opts;  // --method too
    size_t limit = 0;
    size_t faithfulness_n = 100;  // CAM faithfulness sample; 0 = off
    CLI::Option* faithfulness_opt = nullptr;  // given explicitly: no cost cap
    FlipSettings flip;                        // the flip test's sample size and k
    CLI::Option* flip_opt = nullptr;          // --flip-n given explicitly: no cost cap
    AnalysisOptions report;
    std::string shard;       // "K/N" or "auto"; empty = the whole analysis and its report
    int shard_count = 0;     // N for --shard auto under a Kubernetes Indexed Job
    bool resume = false;     // continue from the chunks in <out>.partial/
    size_t chunk = 4096;     // images per chunk (rounded up to whole batches)
};

void add_report_flags(CLI::App& cmd, AnalyzeArgs& a) {
    cmd.add_option("--layer,-l", a.layer, "target layer for the CAMs (default: the last spatial layer)");
    cmd.add_option("--method", a.cam_opts.cam.method, "CAM method: " + join(cam_methods(), ", "))->capture_default_str();
    a.cam_opts.add(cmd);
    cmd.add_option("--limit", a.limit, "analyse the first N images only (0 = all)")->check(non_negative());
    cmd.add_option("--worst", a.report.worst_k, "worst predictions per class gallery")
        ->capture_default_str()
        ->check(non_negative());
    cmd.add_option("--best", a.report.best_k, "best predictions per class gallery")
        ->capture_default_str()
        ->check(non_negative());
    cmd.add_option("--high-conf", a.report.high_conf, "confidence at or above which an error is 'high-confidence'")
        ->capture_default_str()
        ->check(number_in(0, 1, "0..1"));
    cmd.add_option("--low-conf", a.report.low_conf, "confidence below which a correct prediction is 'low-confidence'")
        ->capture_default_str()
        ->check(number_in(0, 1, "0..1"));
    cmd.add_option("--top-pairs", a.report.top_pairs, "bars in top_confused_pairs.png")
        ->capture_default_str()
        ->check(non_negative());
    cmd.add_option("--pair-figures", a.report.confused_pair_figures, "confused_pair_*.png figures")
        ->capture_default_str()
        ->check(non_negative());
    cmd.add_flag("--row-normalised", a.report.row_normalised_matrix, "confusion_matrix_full.png as shares of each true class");
    cmd.add_option("--max-galleries", a.report.max_galleries,
                   "with more classes than this, draw class galleries only for this many lowest-accuracy classes "
                   "(and the confused-pair classes); 0 = every class")
        ->capture_default_str()
        ->check(non_negative());
    cmd.add_option("--failure-min-errors", a.report.failure_min_errors,
                   "failure modes (failure_modes/): group the errors of classes with at least this many errors, and "
                   "of the top confused pairs with as many, by their CAMs")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd.add_option("--failure-max-k", a.report.failure_max_k,
                   "failure modes: at most this many modes per group, chosen by silhouette (0 = no failure modes)")
        ->capture_default_str()
        ->check(non_negative());
    a.faithfulness_opt =
        cmd.add_option("--faithfulness-n", a.faithfulness_n,
                       "images for the CAM faithfulness check of the gradient CAM methods (4 steps, ROAD at "
                       "25/75%; faithfulness.csv/.png and one line in the summary; see `camscope evaluate-cams`). "
                       "Left at the default, capped so the check costs about 1/8 of a pass over the analysed "
                       "images (18 of 10,000; a quick, noisy ranking: name a larger N for a firmer one); 0 = off")
            ->capture_default_str()
            ->check(non_negative());
    a.flip_opt = cmd.add_option("--flip-n", a.flip.n,
                                "errors for the flip test: the top --flip-fraction of the predicted class's CAM removed "
                                "(ROAD noisy linear imputation) and the model run again; each error is 'distractor "
                                "evidence' (back to the true class), 'missing true evidence' (still wrong) or "
                                "'unstable' (a third class); flip_test/, one line in the summary. Left at the default, "
                                "at most max(16, images/16), evenly spread over the errors (about 1/16 of a forward "
                                "pass); 0 = off")
                     ->capture_default_str()
                     ->check(non_negative());
    cmd.add_option("--flip-fraction", a.flip.fraction,
                   "share of the input's pixels the flip test removes: the top of the predicted class's CAM")
        ->capture_default_str()
        ->check(number_in(0.001, 0.999, "0.001..0.999"));
    cmd.add_option("--sanity-images", a.report.sanity_images,
                   "images for the sanity gate of the maps (Adebayo et al. 2018): the report's CAMs recomputed with "
                   "the weights above the layer randomised, output first (at most 8 steps, 3 randomisations each), "
                   "and for a random other class; a seeded even sample; sanity.csv and a section in index.html; "
                   "0 = off")
        ->capture_default_str()
        ->check(non_negative());
    cmd.add_option("--sanity-threshold", a.report.sanity_threshold,
                   "the gate fails (a warning at the top of the report and on its CAM figures) when the mean "
                   "Spearman correlation of original and changed maps is at least this")
        ->capture_default_str()
        ->check(number_in(-1, 1, "-1..1"));
}

/// Which slice of the run this process computes: --shard K/N, or --shard auto from the scheduler's
/// environment (a Slurm job array; a Kubernetes Indexed Job with --shard-count N).
std::pair<int, int> parse_shard(const std::string& spec, int count) {
    auto number = [](const std::string& t, const std::string& what) {
        int v = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size() || v < 0)
            throw UsageError("--shard: " + what + " must be a non-negative whole number, got '" + t + "'");
        return v;
    };
    int k = 0, n = 0;
    if (spec == "auto") {
        const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
        const char* jci = std::getenv("JOB_COMPLETION_INDEX");
        if (id && jci)
            throw UsageError(format("--shard auto: both SLURM_ARRAY_TASK_ID (%s, a Slurm job array) and "
                                    "JOB_COMPLETION_INDEX (%s, a Kubernetes Indexed Job) are set, so which one numbers "
                                    "this shard is unclear: use --shard K/N",
                                    id, jci));
        if (id) {
            const char* cnt = std::getenv("SLURM_ARRAY_TASK_COUNT");
            if (!cnt) throw UsageError("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
            const char* mn = std::getenv("SLURM_ARRAY_TASK_MIN");
            const char* mx = std::getenv("SLURM_ARRAY_TASK_MAX");
            const char* st = std::getenv("SLURM_ARRAY_TASK_STEP");
            const int min = mn ? number(mn, "SLURM_ARRAY_TASK_MIN") : 0;
            const int step = st ? std::max(1, number(st, "SLURM_ARRAY_TASK_STEP")) : 1;
            const int task = number(id, "SLURM_ARRAY_TASK_ID");
            n = number(cnt, "SLURM_ARRAY_TASK_COUNT");
            // A list array (--array=1,3,5,8) has no step that numbers its tasks 0..N-1.
            if (mx && (number(mx, "SLURM_ARRAY_TASK_MAX") - min) / step + 1 != n)
                throw UsageError(format("--shard auto: the Slurm job array is not a range (tasks %d..%s, step %d, but "
                                        "%d tasks): submit it as --array=0-%d (or with a step), or give --shard K/N",
                                        min, mx, step, n, n - 1));
            if (task < min || (task - min) % step != 0)
                throw UsageError(format("--shard auto: SLURM_ARRAY_TASK_ID %d is not on the array's grid (min %d, step %d)",
                                        task, min, step));
            k = (task - min) / step;  // --array=1-4 or 0-6:2 number their tasks 0..N-1 too
            if (count > 0 && count != n)
                throw UsageError(format("--shard-count %d disagrees with the Slurm array's %d tasks "
                                        "(SLURM_ARRAY_TASK_COUNT); leave it out under Slurm",
                                        count, n));
        } else if (jci) {
            if (count <= 0)
                throw UsageError("--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job); give the "
                                 "number of shards (the Job's completions) with --shard-count N");
            k = number(jci, "JOB_COMPLETION_INDEX");
            n = count;
        } else {
            throw UsageError("--shard auto: neither SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (a Slurm job array) nor "
                             "JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; use --shard K/N");
        }
    } else {
        const auto slash = spec.find('/');
        if (slash == std::string::npos) throw UsageError("--shard must be K/N (e.g. 2/8) or auto, got '" + spec + "'");
        k = number(spec.substr(0, slash), "K");
        n = number(spec.substr(slash + 1), "N");
        if (count > 0 && count != n)
            throw UsageError(format("--shard-count %d disagrees with --shard %s (N = %d); --shard-count is for "
                                    "--shard auto in a Kubernetes Indexed Job",
                                    count, spec.c_str(), n));
    }
    if (n <= 0 || k >= n) throw UsageError(format("--shard %d/%d: need 0 <= K < N", k, n));
    return {k, n};
}

/// The library's settings for this run (pipeline/analyze.hpp): the CAM settings, the report's
/// options, the store's chunks in <out>.partial/.
AnalyzeSettings settings(const AnalyzeArgs& a, const std::string& layer, std::chrono::steady_clock::time_point t0) {
    AnalyzeSettings as;
    as.cam = a.cam_opts.cam;
    as.cam.layers = {layer};
    as.batch_size = a.eng.batch_size;
    as.limit = a.limit;
    as.faithfulness_n = a.faithfulness_n;
    as.faithfulness_explicit = a.faithfulness_opt && a.faithfulness_opt->count() > 0;
    as.flip = a.flip;
    as.flip.explicit_n = a.flip_opt && a.flip_opt->count() > 0;
    as.progress = !g_quiet;
    as.quiet = g_quiet;
    as.report = a.report;
    as.store.chunk_dir = chunk_folder(a.out);
    as.store.resume = a.resume;
    as.store.chunk = a.chunk;
    as.store.in_report = true;
    as.store.data_split = a.data.split;
    as.store.data_format_flag = a.data.format;
    as.started = t0;
    return as;
}

/// After the report is built: written (with the store inside) and summed up on the terminal.
void finish_report(const AnalyzeArgs& a, const Analysis& an, std::chrono::steady_clock::time_point t0,
                   const std::string& what) {
    write_analysis(an, a.out);
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Report& r = an.report;
    printf("%s", format_terminal_summary(r).c_str());
    if (r.faithfulness) printf("  %s\n", faith::headline(*r.faithfulness).c_str());
    if (r.flips) printf("  %s\n", flips_headline(*r.flips).c_str());
    printf("report: %s/index.html (%.1f s in all, %.1f s %s for %zu images)\n", a.out.c_str(), total,
           an.input.timings.predict_s, what.c_str(), an.input.n);
}

/// The whole analysis (the library's analyze_pass + analyze_report + write_analysis). With --shard,
/// the pass over one slice and its store only.
void analyze(const AnalyzeArgs& a) {
    const std::string& model_path = a.model;
    const auto t0 = std::chrono::steady_clock::now();
    // Everything is checked before the analysis, and the output folder is not touched until the
    // finished report replaces it (write_report): a typo in any argument leaves an earlier report as it was.
    std::pair<int, int> shard{0, 1};
    const bool sharded = !a.shard.empty();
    check_cam_settings(a.cam_opts.cam);
    if (sharded) shard = parse_shard(a.shard, a.shard_count);
    else if (a.shard_count > 0) throw UsageError("--shard-count needs --shard auto (it is the N of a Kubernetes Indexed Job)");
    auto [ds, m, s] = open_model_run(a);
    const std::string layer = m.resolve_layer(a.layer, s);
    if (sharded)
        check_store_destination(a.out);
    else
        check_report_destination(a.out);  // writable, not a folder of other files
    RunIdentity identity;             // what the report is made from: summary.json "identity"
    identify_model(identity, model_path, m.info().logits);
    identify_dataset(identity, *ds, a.data.path);
    identify_input(identity, s);
    AnalyzeSettings as = settings(a, layer, t0);
    std::tie(as.store.shard, as.store.shards) = shard;
    if (!g_quiet) {
        fprintf(stderr, "%s: %zu images, %zu classes; CAM %s at layer %s\n", a.data.path.c_str(), ds->size(),
                ds->num_classes(), a.cam_opts.cam.method.c_str(), layer.c_str());
        if (sharded) {
            const size_t total = a.limit ? std::min(a.limit, ds->size()) : ds->size();
            const size_t batches = (total + a.eng.batch_size - 1) / a.eng.batch_size;
            if (static_cast<size_t>(shard.second) <= batches) {  // else analyze_pass refuses it
                const auto [b, e] = shard_rows(total, a.eng.batch_size, shard.first, shard.second);
                fprintf(stderr, "shard %d/%d: images %zu..%zu of %zu\n", shard.first, shard.second, b,
                        e == b ? b : e - 1, total);
            }
        }
    }
    Pass pass = analyze_pass(m, *ds, s, as, identity, model_path, a.data.path);
    if (sharded) {
        write_shard(pass, a.out);
        const StoreManifest& man = pass.manifest;
        printf("shard %d/%d: %zu images (%zu..%zu) in %s (%.1f s predict+CAM); `camscope merge` the %d shards\n",
               shard.first, shard.second, pass.input.n, man.begin, man.end == man.begin ? man.begin : man.end - 1,
               a.out.c_str(), pass.input.timings.predict_s, shard.second);
        return;
    }
    const Analysis an = analyze_report(m, *ds, s, as, std::move(pass));
    finish_report(a, an, t0, "predict+CAM");
}

/// `camscope merge`: the stores of the shards of one run → the report of the whole run.
void merge(AnalyzeArgs a, const std::vector<std::string>& paths, const std::string& model_override,
           const std::string& data_override) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<Store> parts;
    for (const auto& p : paths) parts.push_back(read_store(p));
    Store all = combine_stores(std::move(parts), "shard");
    const StoreManifest& man = all.manifest;
    const RunIdentity& id = man.identity;
    check_report_destination(a.out);
    // The model and data the stores were computed from, checked to be those (the faithfulness
    // check and the pair sheets' Finer-CAMs run the model on a few dozen images; the galleries
    // show the dataset's images).
    const std::string model_path = model_override.empty() ? id.model_path : model_override;
    RunIdentity live;
    try {
        identify_model(live, model_path, id.model_logits);  // (only the file is compared here)
    } catch (const Error& e) {
        if (!model_override.empty()) throw;
        throw Error(std::string(e.what()) + "\n(the stores record this path; pass the model with --model FILE)");
    }
    if (live.model_sha256 != id.model_sha256)
        throw Error(format("%s is not the model the stores were computed with (%s, SHA-256 %.12s…; this file: %.12s…)",
                           model_path.c_str(), id.model_path.c_str(), id.model_sha256.c_str(),
                           live.model_sha256.c_str()));
    a.eng.batch_size = man.batch_size;
    a.eng.logits = id.model_logits;  // the output element the shards read their logits from
    Model m = load_model(model_path, a.eng, g_quiet);
    a.data.path = data_override.empty() ? id.data_path : data_override;
    a.data.split = man.data_split;
    a.data.format = man.data_format_flag;
    std::unique_ptr<Dataset> ds;
    try {
        ds = a.data.open();
    } catch (const Error& e) {
        if (!data_override.empty()) throw;
        throw Error(std::string(e.what()) + "\n(the stores record this path; pass the dataset with --data PATH)");
    }
    InputSpec s;
    s.channels = id.channels;
    s.height = id.height;
    s.width = id.width;
    s.norm.mean.assign(id.mean.begin(), id.mean.end());
    s.norm.std.assign(id.std.begin(), id.std.end());
    s.norm_source = id.norm_source;
    ds = fit_to_model(m, std::move(ds), s);
    identify_dataset(live, *ds, a.data.path);
    if (auto d = dataset_difference(id, live, {"the shards were computed on", "this merge reads"}))
        throw Error(format("%s is not the dataset the stores were computed on:\n  %s\n(every label and image "
                           "counts; pass the dataset they were computed on with --data)",
                           a.data.path.c_str(), d->c_str()));
    a.cam_opts.cam = id.cam;  // the stores' settings, every one (analyze_report reads the manifest's)
    const std::string layer = layers_text(id.cam);
    if (!g_quiet)
        fprintf(stderr, "merge: %zu stores, %zu images, CAM %s at layer %s\n", paths.size(), all.rows.n,
                id.cam.method.c_str(), layer.c_str());
    // Timings: predict = the shards' pass time added up; load = reading the stores, model and data here.
    all.rows.timings.load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    all.rows.timings.total_s = all.rows.timings.load_s + all.rows.timings.predict_s;
    const Dataset& dsr = *ds;
    auto rows = std::make_shared<const std::vector<int>>(all.rows.indices);
    all.rows.load_image = [&dsr, rows](size_t row) { return dsr.get(static_cast<size_t>((*rows)[row])).image; };
    AnalyzeSettings as = settings(a, layer, t0);
    as.store.chunk_dir.clear();  // nothing of a pass here to remove
    const Analysis an = analyze_report(m, *ds, s, as, Pass{std::move(all.rows), std::move(all.manifest), "", nullptr});
    finish_report(a, an, t0, "predict+CAM in the shards");
}

}  // namespace

void register_analyze(CLI::App& app) {
    auto* cmd = app.add_subcommand("analyze",
                                   "Full error analysis of a model on a test set: metrics, confusions, calibration, "
                                   "Grad-CAM galleries, label errors, recommendations, HTML report");
    auto a = std::make_shared<AnalyzeArgs>();
    a->add(*cmd);
    cmd->add_option("--out,-o", a->out, "report folder")->capture_default_str();
    add_report_flags(*cmd, *a);
    cmd->add_option("--shard", a->shard,
                     "compute only slice K of N (K/N, 0-based) and write only its store to --out, for `camscope "
                     "merge`; `auto`: from a Slurm job array (SLURM_ARRAY_TASK_ID/COUNT) or a Kubernetes Indexed Job "
                     "(JOB_COMPLETION_INDEX, with --shard-count)");
    cmd->add_option("--shard-count", a->shard_count, "N for --shard auto in a Kubernetes Indexed Job (its completions)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--resume", a->resume,
                  "continue a killed run from its last complete chunk (in <out>.partial/; chunks of another model, "
                  "data or options are refused)");
    cmd->add_option("--chunk", a->chunk, "images per chunk of the pass (rounded up to whole batches): what --resume "
                                         "keeps of a killed run")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->callback([a] { analyze(*a); });
}

void register_merge(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "merge", "Build the report of a sharded analysis from the stores of its shards (`analyze --shard`): checks "
                 "they are the complete, disjoint slices of one run; the model runs only for the faithfulness check "
                 "and the pair sheets' Finer-CAMs (a few dozen images)");
    auto a = std::make_shared<AnalyzeArgs>();
    auto stores = std::make_shared<std::vector<std::string>>();
    auto model = std::make_shared<std::string>();
    auto data = std::make_shared<std::string>();
    cmd->add_option("stores", *stores, "the shards' store folders (or report folders holding store/)")->required();
    cmd->add_option("--out,-o", a->out, "report folder")->required();
    cmd->add_option("--model,-m", *model, "the model file, if not at the path the stores record (its SHA-256 is checked)");
    cmd->add_option("--data,-d", *data, "the dataset, if not at the path the stores record (its fingerprint is checked)");
    cmd->add_option("--threads", a->eng.threads, "intra-op CPU threads (default: all cores)")->check(non_negative());
    cmd->add_option("--device", a->eng.device, "cpu, cuda or cuda:N")->capture_default_str();
    add_report_flags(*cmd, *a);
    for (const char* fixed : {"--layer", "--method", "--eigen-smooth", "--aug-smooth", "--max-channels", "--alpha", "--limit"})
        cmd->remove_option(cmd->get_option(fixed));  // the stores' settings
    cmd->callback([a, stores, model, data] { merge(*a, *stores, *model, *data); });
}

void register_demo(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "demo", "Train the built-in CNN on Debian's Fashion-MNIST (apt install dataset-fashion-mnist), then analyze it");
    auto a = std::make_shared<AnalyzeArgs>();
    auto epochs = std::make_shared<int>(3);
    auto train_limit = std::make_shared<size_t>(0);
    a->data.path = "/usr/share/datasets/fashion-mnist";
    a->out = "camscope-demo";
    cmd->add_option("--data,-d", a->data.path, "Fashion-MNIST IDX folder")->capture_default_str();
    cmd->add_option("--out,-o", a->out, "demo folder: model.pt and report/")->capture_default_str();
    cmd->add_option("--epochs", *epochs, "training epochs")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--train-limit", *train_limit, "train on the first N images only (0 = all 60000)")->check(non_negative());
    a->eng.add(*cmd);
    add_report_flags(*cmd, *a);
    cmd->callback([a, epochs, train_limit] {
        namespace fs = std::filesystem;
        if (!fs::exists(a->data.path))
            throw Error(a->data.path + ": Fashion-MNIST not found; install it with `apt-get install dataset-fashion-mnist`"
                        " or pass --data DIR");
        const int n = apply_threads(a->eng.threads);
        OpenOptions oo;
        oo.split = "train";
        auto train = open_dataset(a->data.path, oo);
        oo.split = "test";
        auto test = open_dataset(a->data.path, oo);
        TrainOptions to;
        to.arch = "cnn";
        to.epochs = *epochs;
        to.limit = *train_limit;
        to.out = a->out + "/model.pt";
        to.quiet = g_quiet;
        if (!g_quiet) fprintf(stderr, "camscope demo: training the built-in CNN on Fashion-MNIST (%d CPU threads)\n", n);
        ModelInfo none;
        InputSpec s = resolve_input_spec(none, train->info(), {});
        train_builtin(*train, test.get(), s, to);
        AnalyzeArgs rep = *a;
        rep.out = a->out + "/report";
        rep.model = to.out;
        analyze(rep);
    });
}

}  // namespace camscope::cli

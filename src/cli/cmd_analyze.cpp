// camscope analyze | demo
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "camscope/engine/train.hpp"
#include "camscope/pipeline/analyze.hpp"
#include "camscope/report/analysis.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"
#include "common.hpp"

namespace camscope::cli {

namespace {

struct AnalyzeArgs {
    std::string model, out = "camscope-report", layer, method = "gradcam";
    DataFlags data;
    SpecFlags spec;
    EngineFlags eng;
    CamOptionFlags cam_opts;
    size_t limit = 0;
    size_t faithfulness_n = 100;  // CAM faithfulness sample; 0 = off
    CLI::Option* faithfulness_opt = nullptr;  // given explicitly: no cost cap
    AnalysisOptions report;
};

void add_report_flags(CLI::App& cmd, AnalyzeArgs& a) {
    cmd.add_option("--layer,-l", a.layer, "target layer for the CAMs (default: the last spatial layer)");
    cmd.add_option("--method", a.method, "CAM method: " + join(cam_methods(), ", "))->capture_default_str();
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
    a.faithfulness_opt =
        cmd.add_option("--faithfulness-n", a.faithfulness_n,
                       "images for the CAM faithfulness check of the gradient CAM methods (4 steps, ROAD at "
                       "25/75%; faithfulness.csv/.png and one line in the summary; see `camscope evaluate-cams`). "
                       "Left at the default, capped so the check costs about 1/8 of a pass over the analysed "
                       "images (18 of 10,000; a quick, noisy ranking: name a larger N for a firmer one); 0 = off")
            ->capture_default_str()
            ->check(non_negative());
}

/// The whole analysis: one streaming pass (predictions + CAMs of the predicted and true class),
/// then the report model and its writers.
void analyze(const AnalyzeArgs& a, const std::string& model_path) {
    const auto t0 = std::chrono::steady_clock::now();
    // Everything is checked before the analysis, and the output folder is not touched until the
    // finished report replaces it (write_report): a typo in any argument leaves an earlier report as it was.
    auto ds = a.data.open();
    Model m = load_model(model_path, a.eng, g_quiet);
    InputSpec s = resolve_input_spec(m.info(), ds->info(), a.spec.overrides());
    ds = fit_to_model(m, std::move(ds), s);
    const std::string layer = m.resolve_layer(a.layer, s);
    check_report_destination(a.out);  // writable, not a folder of other files
    RunIdentity identity;             // what the report is made from: summary.json "identity"
    identify_model(identity, model_path);
    identify_dataset(identity, *ds, a.data.path);
    identify_input(identity, s);
    if (!g_quiet)
        fprintf(stderr, "%s: %zu images, %zu classes; CAM %s at layer %s\n", a.data.path.c_str(), ds->size(),
                ds->num_classes(), a.method.c_str(), layer.c_str());
    AnalyzeSettings as;
    as.method = a.method;
    as.layer = layer;
    a.cam_opts.apply(as.cam_options);
    as.batch_size = a.eng.batch_size;
    as.limit = a.limit;
    as.faithfulness_n = a.faithfulness_n;
    as.faithfulness_explicit = a.faithfulness_opt && a.faithfulness_opt->count() > 0;
    as.progress = !g_quiet;
    as.report = a.report;
    as.started = t0;
    Analysis an = analyze_dataset(m, *ds, s, as, identity, model_path, a.data.path);
    const Report& r = an.report;
    const AnalysisInput& in = an.input;
    const AnalysisOptions& ro = an.options;
    write_report(r, in, ro, a.out);
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("%s", format_terminal_summary(r).c_str());
    if (r.faithfulness) printf("  %s\n", faith::headline(*r.faithfulness).c_str());
    printf("report: %s/index.html (%.1f s in all, %.1f s predict+CAM for %zu images)\n", a.out.c_str(), total,
           in.timings.predict_s, in.n);
}

}  // namespace

void register_analyze(CLI::App& app) {
    auto* cmd = app.add_subcommand("analyze",
                                   "Full error analysis of a model on a test set: metrics, confusions, calibration, "
                                   "Grad-CAM galleries, label errors, recommendations, HTML report");
    auto a = std::make_shared<AnalyzeArgs>();
    cmd->add_option("--model,-m", a->model, "TorchScript model file")->required();
    a->data.add(*cmd);
    a->spec.add(*cmd);
    a->eng.add(*cmd);
    cmd->add_option("--out,-o", a->out, "report folder")->capture_default_str();
    add_report_flags(*cmd, *a);
    cmd->callback([a] { analyze(*a, a->model); });
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
        analyze(rep, to.out);
    });
}

}  // namespace camscope::cli

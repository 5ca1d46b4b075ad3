// camscope serve
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "camscope/report/analysis.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/serve/results.hpp"
#include "camscope/serve/server.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"
#include "common.hpp"

namespace camscope::cli {

namespace {

struct ServeArgs : ModelRunFlags {
    std::string results, layer, method = "gradcam", tags;
    CLI::Option* layer_opt = nullptr;   // given explicitly (with --results: must match the results)
    CLI::Option* method_opt = nullptr;
    size_t limit = 0;
    int max_channels = serve::kServeMaxChannels;  // Score-CAM / Ablation-CAM: the initial analysis and every live CAM
    serve::ServeOptions server;
};

/// The explorer data of a previous `camscope analyze`, if it is complete (summary.json), well formed
/// (every index checked) and made from this model, dataset and input (summary.json's identity).
/// `alpha`: the results' Finer-CAM alpha, the live Finer-CAMs' default (so the explorer's maps are the report's).
nlohmann::json read_results(const ServeArgs& a, Model& m, const Dataset& ds, const InputSpec& s, std::string& folder,
                            double& alpha) {
    serve::ResultsFolder rf = serve::read_results_folder(a.results);
    folder = std::filesystem::path(rf.summary_path).parent_path().string();
    alpha = rf.identity.cam.alpha;
    RunIdentity live;
    identify_model(live, a.model, m.info().logits);
    identify_dataset(live, ds, a.data.path);
    identify_input(live, s);
    const bool method_given = a.method_opt && a.method_opt->count() > 0, layer_given = a.layer_opt && a.layer_opt->count() > 0;
    live.cam = rf.identity.cam;  // the results' settings (alpha: the live Finer-CAMs' default)
    if (method_given) live.cam.method = a.method;
    if (layer_given) live.cam.layers = {m.resolve_layer(a.layer, s)};
    const auto diffs = identity_differences(rf.identity, live);
    if (!diffs.empty())
        throw Error(rf.summary_path + ": these results were not made from what this server runs:\n  " + join(diffs, "\n  ") +
                    "\n(run `camscope analyze` with this model and dataset, or leave out --results to analyse now)");
    return std::move(rf.data);
}

/// The same measurement as `camscope analyze` (one pass: predictions + CAMs of the predicted and
/// true class), kept in memory as the explorer's data.
nlohmann::json analyse(Model& m, const Dataset& ds, const InputSpec& s, const ServeArgs& a, const std::string& layer) {
    PassOptions po;
    po.batch_size = a.eng.batch_size;
    po.limit = a.limit;
    po.progress = !g_quiet;
    po.cams = true;
    po.cam.method = a.method;
    po.cam.layers = {layer};
    po.cam.max_channels = a.max_channels;  // as the live CAMs (scorecam/ablationcam only)
    po.label = "predict+CAM";
    AnalysisInput in = measure(m, ds, s, po, a.model, a.data.path);
    AnalysisOptions ro;
    ro.progress = !g_quiet;
    return explorer_data(build_report(in, ro), in);
}

void serve_command(const ServeArgs& a) {
    const auto t0 = std::chrono::steady_clock::now();
    auto [ds, m, s] = open_model_run(a);
    nlohmann::json data;
    double alpha = 1.0;  // Finer-CAM's, for live CAMs that name none
    std::string tags_path = a.tags;  // the image tags (api/tags): --tags, else <results>/tags.json, else memory only
    if (!a.results.empty()) {
        std::string folder;
        data = read_results(a, m, *ds, s, folder, alpha);
        if (tags_path.empty()) tags_path = (std::filesystem::path(folder) / "tags.json").string();
    } else {
        const std::string layer = m.resolve_layer(a.layer, s);
        if (!g_quiet)
            fprintf(stderr, "%s: %zu images, %zu classes; CAM %s at layer %s\n", a.data.path.c_str(), ds->size(),
                    ds->num_classes(), a.method.c_str(), layer.c_str());
        data = analyse(m, *ds, s, a, layer);
    }
    serve::Explorer explorer(m, *ds, s, std::move(data), m.layers(s), tags_path, a.max_channels, alpha);
    const double ready_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    serve::run_server(explorer, a.server, [&](const serve::ListenInfo& at) {
        if (!at.loopback)  // printed even with -q: this is not a note
            fprintf(stderr,
                    "camscope serve: WARNING: listening on %s, which other machines can reach: anyone who can connect to "
                    "port %d sees the analysed images, labels and predictions and can make this machine compute CAMs. "
                    "There is no authentication. Requests must still name this server by an address, localhost or an "
                    "--allow-host name.\n",
                    a.server.host.c_str(), at.port);
        printf("camscope serve: %s (%zu images, ready in %.1f s; Ctrl-C to stop)\n", at.url.c_str(),
               explorer.data()["rows"]["label"].size(), ready_s);
        fflush(stdout);
    });
}

}  // namespace

void register_serve(CLI::App& app) {
    auto* cmd = app.add_subcommand("serve",
                                   "Interactive explorer in the browser: the confusion matrix, classes and images of an "
                                   "analysis, with live CAMs for any class, method and layer");
    auto a = std::make_shared<ServeArgs>();
    a->add(*cmd);
    cmd->add_option("--results,-r", a->results,
                    "the --out folder of an earlier `camscope analyze` of this model and dataset (default: analyse now); "
                    "refused unless complete (summary.json) and made from this model file (SHA-256), dataset and input");
    cmd->add_option("--tags", a->tags,
                    "JSON file keeping the image tags set in the explorer (read at start, rewritten atomically on each "
                    "change; default: tags.json in the --results folder, else kept in memory only)");
    cmd->add_option("--port,-p", a->server.port, "TCP port (0 = any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
    cmd->add_option("--host", a->server.host,
                    "address to listen on (the default is reachable from this machine only; any other prints a warning)")
        ->capture_default_str();
    cmd->add_option("--allow-host", a->server.allow_hosts,
                    "a host name the browser may use besides localhost, --host and IP addresses (repeatable; requests "
                    "naming other hosts are refused: DNS rebinding)");
    cmd->add_option("--http-threads", a->server.http_threads, "requests handled at once")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_flag("--log", a->server.log_requests, "log every request on stderr");
    cmd->add_option("--max-channels", a->max_channels,
                    "scorecam/ablationcam: the most channels one CAM perturbs (the most active; one forward pass "
                    "each), for the initial analysis and every live CAM: a request's larger max_channels, or 0, is "
                    "lowered to it, and the answer's stats say \"max_channels\" (0 = no cap: one request may then cost "
                    "a forward pass per channel of the layer)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--cam-queue", a->server.cam_queue,
                    "live CAMs that may wait behind the one being computed; more are answered 503 with Retry-After "
                    "(pages, data and cached CAMs are answered by other threads and never wait behind CAMs; a "
                    "waiting CAM whose browser went away is dropped)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    a->layer_opt = cmd->add_option("--layer,-l", a->layer,
                                   "CAM layer of the initial analysis (default: the last spatial layer; with --results: "
                                   "that of the results, and a different one is refused)");
    a->method_opt = cmd->add_option("--method", a->method,
                                    "CAM method of the initial analysis: " + join(cam_methods(), ", ") +
                                        " (with --results: that of the results, and a different one is refused)")
                        ->capture_default_str();
    cmd->add_option("--limit", a->limit, "analyse the first N images only (0 = all)")->check(non_negative());
    cmd->callback([a] { serve_command(*a); });
}

}  // namespace camscope::cli

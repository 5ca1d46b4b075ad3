// camscope serve
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "camscope/report/analysis.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/serve/server.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"
#include "common.hpp"

namespace camscope::cli {

namespace {

struct ServeArgs {
    std::string model, results, layer, method = "gradcam";
    DataFlags data;
    SpecFlags spec;
    EngineFlags eng;
    size_t limit = 0;
    serve::ServeOptions server;
};

/// The explorer data of a previous `camscope analyze` (its folder or its explorer/ folder).
nlohmann::json read_results(const std::string& dir) {
    namespace fs = std::filesystem;
    for (const fs::path& p : {fs::path(dir) / "explorer" / "data.js", fs::path(dir) / "data.js"})
        if (fs::is_regular_file(p)) {
            const auto bytes = read_file(p.string());
            return parse_explorer_data_js(std::string(bytes.begin(), bytes.end()), p.string());
        }
    throw Error(dir + ": no explorer/data.js (expected the --out folder of `camscope analyze`)");
}

/// The same measurement as `camscope analyze` (one pass: predictions + CAMs of the predicted and
/// true class), kept in memory as the explorer's data.
nlohmann::json analyse(Model& m, const Dataset& ds, const InputSpec& s, const ServeArgs& a, const std::string& layer) {
    PassOptions po;
    po.batch_size = a.eng.batch_size;
    po.limit = a.limit;
    po.progress = !g_quiet;
    po.cams = true;
    po.layer = layer;
    po.method = a.method;
    po.label = "predict+CAM";
    AnalysisInput in = measure(m, ds, s, po, a.model, a.data.path);
    AnalysisOptions ro;
    ro.progress = !g_quiet;
    return explorer_data(build_report(in, ro), in);
}

void serve_command(const ServeArgs& a) {
    const auto t0 = std::chrono::steady_clock::now();
    auto ds = a.data.open();
    Model m = load_model(a.model, a.eng, g_quiet);
    InputSpec s = resolve_input_spec(m.info(), ds->info(), a.spec.overrides());
    ds = fit_to_model(m, std::move(ds), s);
    nlohmann::json data;
    if (!a.results.empty()) {
        data = read_results(a.results);
        const std::string was = data["run"].value("model_path", "");
        if (!g_quiet && !was.empty() && std::filesystem::path(was).filename() != std::filesystem::path(a.model).filename())
            fprintf(stderr, "note: the results were made with %s, the server runs %s\n", was.c_str(), a.model.c_str());
    } else {
        const std::string layer = m.resolve_layer(a.layer, s);
        if (!g_quiet)
            fprintf(stderr, "%s: %zu images, %zu classes; CAM %s at layer %s\n", a.data.path.c_str(), ds->size(),
                    ds->num_classes(), a.method.c_str(), layer.c_str());
        data = analyse(m, *ds, s, a, layer);
    }
    serve::Explorer explorer(m, *ds, s, std::move(data), m.layers(s));
    const double ready_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    serve::run_server(explorer, a.server, [&](const std::string& url) {
        printf("camscope serve: %s (%zu images, ready in %.1f s; Ctrl-C to stop)\n", url.c_str(),
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
    cmd->add_option("--model,-m", a->model, "TorchScript model file")->required();
    a->data.add(*cmd);
    a->spec.add(*cmd);
    a->eng.add(*cmd);
    cmd->add_option("--results,-r", a->results,
                    "the --out folder of an earlier `camscope analyze` of this model and dataset (default: analyse now)");
    cmd->add_option("--port,-p", a->server.port, "TCP port (0 = any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
    cmd->add_option("--host", a->server.host,
                    "address to listen on (the default is reachable from this machine only)")
        ->capture_default_str();
    cmd->add_option("--http-threads", a->server.http_threads, "requests handled at once")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_flag("--log", a->server.log_requests, "log every request on stderr");
    cmd->add_option("--layer,-l", a->layer, "CAM layer of the initial analysis (default: the last spatial layer)");
    cmd->add_option("--method", a->method, "CAM method of the initial analysis: " + join(cam_methods(), ", "))
        ->capture_default_str();
    cmd->add_option("--limit", a->limit, "analyse the first N images only (0 = all)")->check(non_negative());
    cmd->callback([a] { serve_command(*a); });
}

}  // namespace camscope::cli

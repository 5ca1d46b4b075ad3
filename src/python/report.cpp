// camscope._camscope: _Report (the analysis of a model on a dataset: its summary, confusion,
// figures, rows, and the report folder) and the calls that make one: analyze, analyze_shard.
#include <memory>
#include <string>
#include <vector>

#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/analyze.hpp"
#include "camscope/report/analysis.hpp"
#include "camscope/report/figures.hpp"
#include "camscope/report/identity.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"
#include "common.hpp"

namespace camscope::bindings {

void bind_report(py::module_& mod) {
    py::class_<PyReport, std::shared_ptr<PyReport>>(mod, "_Report")
        .def_readonly("summary_json", &PyReport::summary_json)
        .def("confusion",
             [](const PyReport& r) {
                 const auto& c = r.an->report.confusion;
                 std::vector<long long> v = c.counts;
                 return to_numpy(std::move(v), {c.k, c.k});
             })
        .def("figures",
             [](const PyReport& r) {  // the report's own figure formatters, as PNG bytes
                 const Report& rep = r.an->report;
                 py::dict d;
                 auto png = [](std::vector<std::uint8_t> b) {
                     return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
                 };
                 std::vector<std::uint8_t> cm, tp, rel, li;
                 {
                     py::gil_scoped_release release;
                     cm = figures::confusion_png(rep, r.an->options);
                     tp = figures::top_pairs_png(rep);
                     rel = figures::reliability_png(rep);
                     if (!rep.label_issue_rows.empty())
                         li = figures::label_issues_png(rep, r.an->input, r.an->options);
                 }
                 d["confusion_matrix"] = png(std::move(cm));
                 d["top_confused_pairs"] = png(std::move(tp));
                 d["reliability_diagram"] = png(std::move(rel));
                 if (!li.empty()) d["likely_label_errors"] = png(std::move(li));
                 return d;
             })
        .def("rows",  // every analysed image: dataset index, label, prediction, its confidence, p(label)
             [](const PyReport& r) {
                 const auto& rows = r.an->report.rows;
                 std::vector<int> idx, lab, pred;
                 std::vector<float> conf, pt;
                 for (const auto& x : rows) {
                     idx.push_back(x.index);
                     lab.push_back(x.label);
                     pred.push_back(x.pred);
                     conf.push_back(x.confidence);
                     pt.push_back(x.p_true);
                 }
                 const auto n = static_cast<py::ssize_t>(rows.size());
                 py::dict d;
                 d["index"] = to_numpy(std::move(idx), {n});
                 d["label"] = to_numpy(std::move(lab), {n});
                 d["pred"] = to_numpy(std::move(pred), {n});
                 d["confidence"] = to_numpy(std::move(conf), {n});
                 d["p_true"] = to_numpy(std::move(pt), {n});
                 return d;
             })
        .def("terminal_summary", [](const PyReport& r) { return format_terminal_summary(r.an->report); })
        .def(
            "write",
            [](const PyReport& r, const std::string& out, bool progress) {
                model_call(*r.model, progress, [&] {
                    check_report_destination(out);
                    write_analysis(*r.an, out);  // store/ too when analyze(store=True)
                    return 0;
                });
            },
            py::arg("out"), py::arg("progress") = true);

    // The library's AnalyzeSettings from analyze()'s and analyze_shard()'s arguments.
    auto settings = [](const PyDataset& d, const std::string& method, bool eigen_smooth, bool aug_smooth,
                       int max_channels, double alpha, int batch_size, size_t limit, const py::object& faithfulness_n,
                       const py::dict& report_options, const std::string& chunk_dir, bool resume, size_t chunk,
                       bool progress) {
        AnalyzeSettings as;
        as.cam = cam_settings(method, {}, eigen_smooth, aug_smooth, max_channels, alpha);  // layers: resolved later
        as.batch_size = batch_size;
        as.limit = limit;
        as.progress = true;  // the bars reach the sink, which draws them only if `progress` (Ctrl-C is checked either way)
        as.faithfulness_explicit = !faithfulness_n.is_none();
        as.faithfulness_n = faithfulness_n.is_none() ? 100 : faithfulness_n.cast<size_t>();
        as.quiet = !progress;
        as.store.chunk_dir = chunk_dir;  // "<out>.partial" (chunk_folder) when given an out; else in memory
        as.store.resume = resume;
        if (chunk == 0) throw UsageError("chunk must be > 0");
        as.store.chunk = chunk;
        as.store.data_split = d.split;
        as.store.data_format_flag = d.format;
        AnalysisOptions& ro = as.report;
        for (auto [k, v] : report_options) {
            const std::string key = py::str(k);
            if (key == "worst") ro.worst_k = v.cast<int>();
            else if (key == "best") ro.best_k = v.cast<int>();
            else if (key == "high_conf") ro.high_conf = v.cast<double>();
            else if (key == "low_conf") ro.low_conf = v.cast<double>();
            else if (key == "top_pairs") ro.top_pairs = v.cast<int>();
            else if (key == "pair_figures") ro.confused_pair_figures = v.cast<int>();
            else if (key == "row_normalised") ro.row_normalised_matrix = v.cast<bool>();
            else if (key == "flip_n") {  // as --flip-n: given, so not capped
                as.flip.n = v.cast<size_t>();
                as.flip.explicit_n = true;
            } else if (key == "flip_fraction") as.flip.fraction = v.cast<double>();
            else if (key == "sanity_images") ro.sanity_images = v.cast<int>();
            else if (key == "sanity_threshold") ro.sanity_threshold = v.cast<double>();
            else throw UsageError("analyze: unknown option '" + key + "'");
        }
        if (!(ro.high_conf >= 0 && ro.high_conf <= 1)) throw UsageError("high_conf must be in 0..1");
        as.flip.validate();
        if (!(ro.low_conf >= 0 && ro.low_conf <= 1)) throw UsageError("low_conf must be in 0..1");
        if (ro.worst_k < 0 || ro.best_k < 0 || ro.top_pairs < 0 || ro.confused_pair_figures < 0)
            throw UsageError("worst, best, top_pairs and pair_figures must be >= 0");
        if (ro.sanity_images < 0) throw UsageError("sanity_images must be >= 0 (0 = off)");
        if (!(ro.sanity_threshold >= -1 && ro.sanity_threshold <= 1)) throw UsageError("sanity_threshold must be in -1..1");
        return as;
    };
    auto identity = [](const PyModel& pm, const PyDataset& d, const InputSpec& s) {
        RunIdentity id;
        if (pm.bytes.empty()) identify_model(id, pm.path, pm.m->info().logits);
        else identify_model_bytes(id, pm.path, pm.bytes, pm.m->info().logits);
        identify_dataset(id, *d.ds, d.path);
        identify_input(id, s);
        return id;
    };

    mod.def(
        "analyze",
        [settings, identity](std::shared_ptr<PyModel> pm, std::shared_ptr<PyDataset> d, const py::dict& spec,
                             const std::string& layer, const std::string& method, bool eigen_smooth, bool aug_smooth,
                             int max_channels, double alpha, int batch_size, size_t limit, py::object faithfulness_n,
                             const py::dict& report_options, bool store, const std::string& chunk_dir, bool resume,
                             size_t chunk, bool progress) {
            const InputSpec s = spec_from(spec);
            AnalyzeSettings as = settings(*d, method, eigen_smooth, aug_smooth, max_channels, alpha, batch_size, limit,
                                          faithfulness_n, report_options, chunk_dir, resume, chunk, progress);
            as.store.in_report = store;
            auto rep = std::make_shared<PyReport>();
            rep->data = d;
            rep->model = pm;
            rep->spec = s;
            model_call(*pm, progress, [&] {
                as.cam.layers = {pm->m->resolve_layer(layer, s)};
                const RunIdentity id = identity(*pm, *d, s);
                rep->an = std::make_shared<Analysis>(analyze_dataset(*pm->m, *d->ds, s, as, id, pm->path, d->path));
                rep->summary_json = camscope::summary_json(rep->an->report, rep->an->options);
                return 0;
            });
            return rep;
        },
        py::arg("model"), py::arg("data"), py::arg("spec"), py::arg("layer"), py::arg("method"), py::arg("eigen_smooth"),
        py::arg("aug_smooth"), py::arg("max_channels"), py::arg("alpha"), py::arg("batch_size"), py::arg("limit"),
        py::arg("faithfulness_n"), py::arg("report_options"), py::arg("store"), py::arg("chunk_dir"), py::arg("resume"),
        py::arg("chunk"), py::arg("progress"));
    mod.def(
        "analyze_shard",  // as `camscope analyze --shard K/N`: the slice's pass and its store in `out`, nothing else
        [settings, identity](std::shared_ptr<PyModel> pm, std::shared_ptr<PyDataset> d, const py::dict& spec,
                             const std::string& out, int k, int n, const std::string& layer, const std::string& method,
                             bool eigen_smooth, bool aug_smooth, int max_channels, double alpha, int batch_size,
                             size_t limit, bool resume, size_t chunk, bool progress) {
            const InputSpec s = spec_from(spec);
            if (n <= 0 || k < 0 || k >= n) throw UsageError(format("shard %d/%d: need 0 <= K < N", k, n));
            AnalyzeSettings as = settings(*d, method, eigen_smooth, aug_smooth, max_channels, alpha, batch_size, limit,
                                          py::int_(0), py::dict(), chunk_folder(out), resume, chunk, progress);
            as.store.shard = k;
            as.store.shards = n;
            model_call(*pm, progress, [&] {
                check_store_destination(out);
                as.cam.layers = {pm->m->resolve_layer(layer, s)};
                write_shard(analyze_pass(*pm->m, *d->ds, s, as, identity(*pm, *d, s), pm->path, d->path), out);
                return 0;
            });
        },
        py::arg("model"), py::arg("data"), py::arg("spec"), py::arg("out"), py::arg("k"), py::arg("n"), py::arg("layer"),
        py::arg("method"), py::arg("eigen_smooth"), py::arg("aug_smooth"), py::arg("max_channels"), py::arg("alpha"),
        py::arg("batch_size"), py::arg("limit"), py::arg("resume"), py::arg("chunk"), py::arg("progress"));
    mod.def("chunk_folder", &chunk_folder, py::arg("out"));
}

}  // namespace camscope::bindings

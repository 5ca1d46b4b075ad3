#include "camscope/pipeline/analyze.hpp"

#include <cstdio>

#include "camscope/pipeline/contrast.hpp"
#include "camscope/pipeline/evaluate.hpp"
#include "camscope/pipeline/measure.hpp"

namespace camscope {

std::unique_ptr<Dataset> fit_to_model(Model& m, std::unique_ptr<Dataset> ds, const InputSpec& s, bool quiet) {
    ds->set_input_size(s.height, s.width);  // large images (photos in a folder) decode reduced
    ClassMatch match = match_classes(m, *ds, s);
    if (match.to_model.empty()) return ds;
    if (!quiet) fprintf(stderr, "%s\n", match.note.c_str());
    return reorder_classes(std::move(ds), std::move(match.to_model), m.info().class_names);
}

Analysis analyze_dataset(Model& m, const Dataset& ds, const InputSpec& s, const AnalyzeSettings& a, RunIdentity identity,
                         const std::string& model_path, const std::string& data_path) {
    identity.method = a.method;
    identity.layer = a.layer;
    identity.eigen_smooth = a.cam_options.eigen_smooth;
    identity.aug_smooth = a.cam_options.aug_smooth;
    identity.max_channels = a.cam_options.max_channels;
    const auto t_load = std::chrono::steady_clock::now();
    PassOptions po;
    po.batch_size = a.batch_size;
    po.limit = a.limit;
    po.progress = a.progress;
    po.cams = true;
    po.layer = a.layer;
    po.method = a.method;
    po.eigen_smooth = a.cam_options.eigen_smooth;
    po.aug_smooth = a.cam_options.aug_smooth;
    po.max_channels = a.cam_options.max_channels;
    po.label = "predict+CAM";
    Analysis out{measure(m, ds, s, po, model_path, data_path), Report{}, a.report};
    AnalysisInput& in = out.input;
    in.timings.load_s = std::chrono::duration<double>(t_load - a.started).count();
    in.timings.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a.started).count();
    AnalysisOptions& ro = out.options;
    ro.progress = a.progress;
    ro.threads = m.threads();  // figures are drawn on the cores the model used
    Report& r = out.report;
    r = build_report(in, ro);
    r.identity = identity;
    // "What made it choose B over A": Finer-CAM of the pair sheets' errors (a few dozen images).
    attach_contrast_cams(r, m, ds, s, a.layer, a.batch_size);
    if (a.faithfulness_n > 0) {  // which CAM method explains this model best, on a small even sample
        EvaluateOptions eo = quick_faithfulness_options(a.faithfulness_n, a.faithfulness_explicit, in.n);
        eo.layers = {a.layer};
        eo.cam_options.alpha = a.cam_options.alpha;  // the maps the report shows, smoothing included
        eo.cam_options.eigen_smooth = a.cam_options.eigen_smooth;
        eo.cam_options.aug_smooth = a.cam_options.aug_smooth;
        eo.cam_options.max_channels = a.cam_options.max_channels;
        eo.batch_size = a.batch_size;
        eo.progress = a.progress;
        eo.label = "CAM faithfulness";
        if (r.degenerate.warn()) {  // too many blank maps: count them at other layers on the same sample too
            eo.check_method = a.method;
            eo.check_layers = candidate_layers(m.layers(s), a.layer);
        }
        faith::Summary fs = evaluate_cams(m, ds, s, in.class_names, eo);
        fs.dataset_path = data_path;
        fs.model_path = model_path;
        attach_faithfulness(r, std::move(fs), ro);
    }
    return out;
}

}  // namespace camscope

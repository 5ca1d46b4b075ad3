// summary.json: the whole Report, machine-readable. schema_version 1. Shares are fractions in
// [0, 1] (not percent); NaN (undefined, e.g. no errors) is written as null.
#include <cmath>

#include <nlohmann/json.hpp>

#include "camscope/report/write_flips.hpp"
#include "camscope/report/writers.hpp"

namespace camscope::report_detail {

namespace {

using nlohmann::json;

json row_json(const Report& r, const RowRef& x) {
    return {{"row", x.row},
            {"index", x.index},
            {"label", x.label},
            {"label_name", r.class_names[x.label]},
            {"pred", x.pred},
            {"pred_name", r.class_names[x.pred]},
            {"confidence", x.confidence},
            {"p_true", x.p_true},
            {"pred_cam_degenerate", x.pred_cam_degenerate},
            {"true_cam_degenerate", x.true_cam_degenerate}};
}

json rows_json(const Report& r, const std::vector<RowRef>& rows) {
    json a = json::array();
    for (const auto& x : rows) a.push_back(row_json(r, x));
    return a;
}

}  // namespace

json ci_json(const intervals::Interval& i) { return i.defined() ? json::array({i.lo, i.hi}) : json(nullptr); }

namespace {

json calibration_json(const metrics::Calibration& c) {
    json bins = json::array();
    for (const auto& b : c.bins)
        bins.push_back({{"lower", b.lower},
                        {"upper", b.upper},
                        {"count", b.count},
                        {"confidence", b.count ? json(b.confidence) : json(nullptr)},
                        {"accuracy", b.count ? json(b.accuracy) : json(nullptr)}});
    return {{"num_bins", c.num_bins},     {"ece", c.ece},  {"ece_ci", ci_json(c.ece_ci)},
            {"mce", c.mce},               {"accuracy", c.accuracy},
            {"mean_confidence", c.mean_confidence}, {"overconfidence", c.overconfidence},
            {"bins", bins}};
}

json focus_json(const FocusStats& f) {
    return {{"centre_share_correct", f.centre_correct},
            {"centre_share_correct_ci", ci_json(f.centre_correct_ci)},
            {"centre_share_wrong", f.centre_wrong},
            {"centre_share_wrong_ci", ci_json(f.centre_wrong_ci)},
            {"gap_ci", ci_json(f.gap_ci)},
            {"n_correct", f.n_correct},
            {"n_wrong", f.n_wrong},
            {"total_correct", f.total_correct},
            {"total_wrong", f.total_wrong}};
}

json count_json(const metrics::CamCount& c) {
    return {{"maps", c.maps}, {"degenerate", c.degenerate}, {"share", c.share()}, {"share_ci", ci_json(c.share_ci())}};
}

json candidate_json(const CamCandidate& c) {
    return {{"method", c.method},
            {"layer", c.layer},
            {"n", c.n},
            {"degenerate", c.degenerate},
            {"share", c.share()},
            {"mean_rank", std::isfinite(c.mean_rank) ? json(c.mean_rank) : json(nullptr)}};
}

}  // namespace

json class_metrics_json(const Report& r, const metrics::ClassStats& c) {
    return {{"index", c.cls},
            {"name", r.class_names[c.cls]},
            {"support", c.support},
            {"correct", c.correct},
            {"predicted", c.predicted},
            {"accuracy", c.recall},
            {"accuracy_ci", ci_json(c.recall_ci)},
            {"precision", c.precision},
            {"precision_ci", ci_json(c.precision_ci)},
            {"f1", c.f1},
            {"mean_confidence", c.mean_confidence}};
}

json overall_json(const Report& r) {
    return {{"top1", r.top1},
            {"top1_ci", ci_json(r.top1_ci)},
            {"top5", r.top5},
            {"top5_ci", ci_json(r.top5_ci)},
            {"top5_k", r.top5_k},
            {"correct", r.correct},
            {"errors", r.errors},
            {"mean_confidence", r.mean_confidence},
            {"mean_confidence_correct", r.mean_confidence_correct},
            {"mean_confidence_wrong", r.mean_confidence_wrong}};
}

std::string summary_json(const Report& r, const WriteOptions& opt, const std::vector<WrittenFile>& files) {
    json j;
    j["schema_version"] = 1;
    j["generator"] = "camscope";
    j["run"] = {{"model_path", r.model_path},
                {"model_kind", r.model_kind},
                {"dataset_path", r.dataset_path},
                {"dataset_name", r.dataset_name},
                {"split", r.split},
                {"layer", r.layer},
                {"method", r.method},
                {"num_images", r.n},
                {"num_classes", r.num_classes},
                {"input_size", {r.input_h, r.input_w}},
                {"cam_size", {r.fh, r.fw}},
                {"timings_s",
                 {{"load", r.timings.load_s},
                  {"predict", r.timings.predict_s},
                  {"cam", r.timings.cam_s},
                  {"total_before_report", r.timings.total_s},
                  {"analysis", r.analysis_s},
                  {"intervals", r.intervals_s},
                  {"flip_test", r.flips ? json(r.flips->seconds) : json(nullptr)},
                  {"sanity_gate", r.sanity ? json(r.sanity->seconds) : json(nullptr)}}},
                {"options",
                 {{"worst_k", r.params.worst_k},
                  {"best_k", r.params.best_k},
                  {"high_conf", r.params.high_conf},
                  {"low_conf", r.params.low_conf},
                  {"ece_bins", r.params.ece_bins},
                  {"row_normalised_matrix", opt.row_normalised_matrix},
                  {"top_region_fraction", r.params.top_region_fraction},
                  {"rec_min_n", r.params.rec_min_n},
                  {"degenerate_warn_share", r.params.degenerate_warn_share},
                  {"intervals",
                   {{"level", 0.95},
                    {"proportions", "Wilson score interval, z = 1.959963984540054"},
                    {"means_and_ece",
                     "percentile bootstrap: each statistic restarts splitmix64 from the seed, draws indices as "
                     "floor(next() * n / 2^64), and takes the 2.5% and 97.5% quantiles of the resampled statistics (linear "
                     "interpolation, numpy's default); the centre-share gap resamples correct then wrong "
                     "predictions"},
                    {"bootstrap_resamples", r.params.interval_resamples},
                    {"bootstrap_seed", r.params.interval_seed}}}}}};
    j["classes"] = r.class_names;
    if (r.identity) j["identity"] = identity_json(*r.identity);

    j["overall"] = overall_json(r);

    json pc = json::array();
    for (const auto& c : r.per_class) {
        const auto& f = r.focus_per_class[c.cls];
        json e = class_metrics_json(r, c);
        e["most_confused_with"] = c.most_confused_with >= 0 ? json(c.most_confused_with) : json(nullptr);
        e["most_confused_count"] = c.most_confused_count;
        e["focus"] = focus_json(f);
        e["degenerate_cams"] = {{"predicted_class_maps", count_json(r.degenerate.by_pred_class[c.cls])},
                                {"true_class_maps", count_json(r.degenerate.by_true_class[c.cls])}};
        e["gallery"] = r.galleries[c.cls].file.empty() ? json(nullptr) : json(r.galleries[c.cls].file);
        pc.push_back(std::move(e));
    }
    j["per_class"] = pc;
    j["worst_classes"] = r.worst_classes;
    j["confusion_matrix"] = {{"rows", "true class"}, {"cols", "predicted class"}, {"csv", "confusion_matrix.csv"}};
    if (r.sparse_confusion_json) {
        // Many classes: the non-zero cells only (the full matrix is confusion_matrix.csv).
        json cells = json::array();
        for (int t = 0; t < r.num_classes; ++t)
            for (int p = 0; p < r.num_classes; ++p)
                if (const long long c = r.confusion.at(t, p)) cells.push_back({t, p, c});
        j["confusion_matrix"]["format"] = "sparse";
        j["confusion_matrix"]["classes"] = r.num_classes;
        j["confusion_matrix"]["cells"] = std::move(cells);
    } else {
        j["confusion_matrix"]["format"] = "dense";
        j["confusion_matrix"]["counts"] = json::array();
        for (int t = 0; t < r.num_classes; ++t) {
            std::vector<long long> row(r.confusion.counts.begin() + static_cast<long>(t) * r.num_classes,
                                       r.confusion.counts.begin() + static_cast<long>(t + 1) * r.num_classes);
            j["confusion_matrix"]["counts"].push_back(row);
        }
    }
    if (!r.top_matrix_classes.empty()) j["confusion_matrix"]["top_classes"] = r.top_matrix_classes;
    j["galleries_drawn"] = r.galleries_drawn;
    j["confusion_matrix"]["display_order"] = r.class_order;

    json directed = json::array(), symmetric = json::array();
    for (const auto& p : r.directed)
        directed.push_back(
            {{"true", p.a}, {"pred", p.b}, {"count", p.count}, {"rate", p.rate}, {"rate_ci", ci_json(p.rate_ci)}});
    for (const auto& p : r.symmetric)
        symmetric.push_back({{"a", p.a},
                             {"b", p.b},
                             {"count", p.count},
                             {"count_ab", p.count_ab},
                             {"count_ba", p.count_ba},
                             {"rate", p.rate},
                             {"rate_ci", ci_json(p.rate_ci)}});
    j["pairs"] = {{"directed", directed}, {"symmetric", symmetric}};

    if (r.has_superclasses) {
        const auto& s = r.superclass;
        json per = json::array();
        for (const auto& g : s.per_superclass)
            per.push_back({{"index", g.coarse},
                           {"name", r.coarse_names[g.coarse]},
                           {"num_fine", g.num_fine},
                           {"support", g.support},
                           {"errors", g.errors},
                           {"within", g.within},
                           {"coarse_accuracy", g.coarse_accuracy}});
        j["superclass"] = {{"names", r.coarse_names},
                           {"fine_to_coarse", r.fine_to_coarse},
                           {"errors", s.errors},
                           {"within", s.within},
                           {"cross", s.cross},
                           {"within_share", s.within_share},
                           {"cross_share", s.cross_share},
                           {"chance_within_share", s.chance_within_share},
                           {"coarse_accuracy", s.coarse_accuracy},
                           {"per_superclass", per}};
    } else {
        j["superclass"] = nullptr;
    }

    const auto& cal = r.calibration;
    j["calibration"] = calibration_json(cal.before);
    j["calibration"]["temperature"] = {{"method", "NLL minimisation on this set (safeguarded Newton on 1/T, T in [0.05, 20])"},
                                       {"T", cal.temperature},
                                       {"at_bound", cal.bound != 0 ? json(cal.bound_name()) : json()},
                                       {"nll_before", cal.nll_before},
                                       {"nll_after", cal.nll_after},
                                       {"after", calibration_json(cal.after)}};

    j["high_confidence_errors"] = {{"threshold", r.params.high_conf},
                                   {"count", r.high_conf_errors.size()},
                                   {"flagged_as_label_errors", r.high_conf_errors_flagged},
                                   {"items", rows_json(r, r.high_conf_errors)}};
    j["low_confidence_correct"] = {{"threshold", r.params.low_conf},
                                   {"count", r.low_conf_correct.size()},
                                   {"items", rows_json(r, r.low_conf_correct)}};

    json pf = json::array();
    for (const auto& p : r.pair_focus)
        pf.push_back({{"true", p.a},
                      {"pred", p.b},
                      {"mean_iou", p.mean_iou},
                      {"mean_iou_ci", ci_json(p.mean_iou_ci)},
                      {"n", p.n},
                      {"errors", p.errors}});
    j["focus"] = {{"definition",
                   "centre share = CAM mass of the predicted class inside the central box (middle half of each "
                   "dimension, 25% of the area) / total mass, on the CAM upsampled to the input size; uniform = 0.25. "
                   "IoU = top-region overlap of the true-class and predicted-class CAMs on errors. Degenerate maps "
                   "(no positive evidence) are left out: each mean is over n of total images (IoU: n_iou_errors of "
                   "errors, both maps with evidence)."},
                  {"overall", focus_json(r.focus)},
                  {"top_region_fraction", r.params.top_region_fraction},
                  {"mean_iou_errors", r.mean_iou_errors},
                  {"mean_iou_errors_ci", ci_json(r.mean_iou_errors_ci)},
                  {"n_iou_errors", r.n_iou_errors},
                  {"errors", r.errors},
                  {"pairs", pf}};

    {
        const auto& d = r.degenerate;
        json cands = json::array();
        for (const auto& c : r.cam_candidates) cands.push_back(candidate_json(c));
        j["degenerate_cams"] = {
            {"definition",
             "a CAM with no positive evidence: every value 0 after the ReLU and per-image min-max (nothing at the "
             "layer raises the class score, or the map is constant). Marked in the figures, left out of the CAM "
             "statistics."},
            {"method", r.method},
            {"layer", r.layer},
            {"predicted_class_maps", count_json(d.pred())},
            {"predicted_class_maps_correct", count_json(d.pred_correct)},
            {"predicted_class_maps_wrong", count_json(d.pred_wrong)},
            {"true_class_maps_wrong", count_json(d.true_wrong)},
            {"warn_share", d.warn_share},
            {"warning", d.warn()},
            {"candidates", cands},
            {"better_method", r.better_method ? candidate_json(*r.better_method) : json(nullptr)},
            {"better_layer", r.better_layer ? candidate_json(*r.better_layer) : json(nullptr)}};
    }

    json issues = json::array();
    for (size_t i = 0; i < r.label_issues.issues.size(); ++i) {
        const auto& is = r.label_issues.issues[i];
        issues.push_back({{"row", is.row},
                          {"index", r.label_issue_rows[i].index},
                          {"given", is.given},
                          {"given_name", r.class_names[is.given]},
                          {"suggested", is.suggested},
                          {"suggested_name", r.class_names[is.suggested]},
                          {"p_given", is.p_given},
                          {"p_suggested", is.p_suggested},
                          {"margin", is.margin}});
    }
    j["label_issues"] = {{"method", "confident learning (Northcutt et al. 2021), off-diagonal of the confident joint"},
                         {"thresholds", r.label_issues.thresholds},
                         {"count", r.label_issues.issues.size()},
                         {"items", issues}};

    json recs = json::array();
    for (const auto& rec : r.recommendations) {
        json figs = json::object();
        for (const auto& [k, v] : rec.figures) figs[k] = v;
        recs.push_back({{"rule", rec.rule}, {"text", rec.text}, {"figures", figs}});
    }
    j["recommendations"] = recs;
    if (r.faithfulness) {  // the overall rows; faithfulness.csv has every group
        const auto& fs = *r.faithfulness;
        json methods = json::array();
        for (const auto& mr : fs.ranking) {
            const auto* g = fs.find(mr.method, "overall");
            json o = {{"method", mr.method},
                      {"mean_rank", mr.mean_rank},
                      {"n", g ? g->n : 0},
                      {"degenerate", g ? g->degenerate : 0}};
            for (const auto& mi : faith::metric_infos()) o[mi.key] = g ? json(g->*(mi.field)) : json(nullptr);
            methods.push_back(o);
        }
        j["faithfulness"] = {{"headline", faith::headline(fs)}, {"n_images", fs.n_images}, {"best", fs.best},
                             {"why", fs.best_reason}, {"layer", fs.layer}, {"selection", fs.selection},
                             {"steps", fs.params.steps}, {"road_percentiles", fs.params.road_percentiles},
                             {"seconds", fs.seconds}, {"methods", methods}, {"file", "faithfulness.csv"}};
        json checks = json::array();
        for (const auto& c : fs.layer_checks)
            checks.push_back({{"method", c.method}, {"layer", c.layer}, {"map_size", {c.fh, c.fw}}, {"n", c.n},
                              {"degenerate", c.degenerate}});
        j["faithfulness"]["layer_checks"] = checks;
    } else {
        j["faithfulness"] = nullptr;
    }
    j["flip_test"] = flips_json(r);

    j["failure_modes"] = failure_modes_json(r);

    if (r.sanity) {  // only when the gate ran: reports without it keep their keys
        const auto& s = *r.sanity;
        auto step = [](const faith::SanityStep& st) {
            return json{{"layer", st.layer}, {"modules_randomised", st.modules}, {"n", st.n}, {"blank", st.blank},
                        {"spearman", st.spearman}, {"ssim", st.ssim}};
        };
        json cascade = json::array();
        for (const auto& st : s.cascade) cascade.push_back(step(st));
        j["sanity"] = {{"reference", "Adebayo et al. 2018, Sanity Checks for Saliency Maps (cascading model parameter "
                                     "randomisation; random logit as Quantus' Random Logit)"},
                       {"headline", faith::sanity_headline(s)},
                       {"passed", s.passed()},
                       {"cascade_fails", s.cascade_fails()},
                       {"random_logit_fails", s.logit_fails()},
                       {"method", s.method},
                       {"layer", s.layer},
                       {"n_images", s.n},
                       {"requested", s.requested},
                       {"seed", s.seed},
                       {"draws", s.draws},
                       {"threshold", s.threshold},
                       {"statistic", "mean Spearman rank correlation, original vs changed map"},
                       {"map_size", {s.map_h, s.map_w}},
                       {"randomisation", faith::kSanityRandomisation},
                       {"comparison", faith::kSanityComparison},
                       {"cascade", cascade},
                       {"random_logit", s.random_logit.n > 0 ? step(s.random_logit) : json(nullptr)},
                       {"file", "sanity.csv"}};  // its time: run.timings_s.sanity_gate
    }

    json cp = json::array();
    for (const auto& f : r.pair_figures)
        cp.push_back({{"file", f.file},
                      {"true", f.a},
                      {"true_name", r.class_names[f.a]},
                      {"pred", f.b},
                      {"pred_name", r.class_names[f.b]},
                      {"examples", f.examples.size()}});
    j["confused_pair_figures"] = cp;

    json fl = json::array();
    for (const auto& f : files) fl.push_back({{"name", f.name}, {"description", f.description}});
    fl.push_back({{"name", "summary.json"}, {"description", "this file; written last, marks a complete report"}});
    j["files"] = fl;
    return j.dump(2) + "\n";
}

}  // namespace camscope::report_detail

namespace camscope {

std::string summary_json(const Report& r, const WriteOptions& opt) { return report_detail::summary_json(r, opt, {}); }

}  // namespace camscope

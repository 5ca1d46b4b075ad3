#include "camscope/faith/summary.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <nlohmann/json.hpp>

#include "camscope/render/plot.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::faith {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) { return std::isfinite(v) ? format("%.6f", v) : std::string(); }

/// Mean of the finite values (NaN if none).
struct Mean {
    double sum = 0;
    long long n = 0;
    void add(double v) {
        if (std::isfinite(v)) sum += v, ++n;
    }
    double get() const { return n ? sum / n : kNaN; }
};

struct Acc {
    long long n = 0, degenerate = 0;
    Mean drop, inc, del, ins, morf, lerf, comb;
    void add(const Scores& s, bool is_degenerate) {
        ++n;
        degenerate += is_degenerate;
        drop.add(s.average_drop);
        inc.add(std::isfinite(s.increase) ? 100 * s.increase : kNaN);
        del.add(s.deletion_auc);
        ins.add(s.insertion_auc);
        morf.add(s.road_morf_mean);
        lerf.add(s.road_lerf_mean);
        comb.add(s.road_combined);
    }
    GroupRow row(const std::string& method, const std::string& group) const {
        return {method, group, n, degenerate, drop.get(), inc.get(), del.get(), ins.get(), morf.get(), lerf.get(), comb.get()};
    }
};

/// Equal within 0.1 %: methods whose maps differ only by rounding (e.g. Grad-CAM and HiResCAM after
/// global average pooling; rounding reorders near-equal pixels, moving an AUC by ~1e-5) must tie
/// instead of being ordered by noise far below what a few hundred images can resolve.
bool same(double a, double b) {
    if (a == b) return true;
    if (!std::isfinite(a) || !std::isfinite(b)) return false;  // a missing value never ties a real one
    return std::fabs(a - b) <= 1e-9 + 1e-3 * std::max(std::fabs(a), std::fabs(b));
}

/// Ranks (1 = best, ties share the average rank, NaN ranks last) of `v`.
std::vector<double> ranks_of(const std::vector<double>& v, bool higher_better) {
    const size_t n = v.size();
    auto key = [&](size_t i) {
        if (!std::isfinite(v[i])) return std::numeric_limits<double>::infinity();
        return higher_better ? -v[i] : v[i];
    };
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
    std::vector<double> r(n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && same(key(idx[j + 1]), key(idx[i]))) ++j;
        const double avg = (i + j) / 2.0 + 1;
        for (size_t k = i; k <= j; ++k) r[idx[k]] = avg;
        i = j + 1;
    }
    return r;
}

bool metric_enabled(const MetricInfo& m, const Params& p) {
    const std::string k = m.key;
    if (k == "average_drop" || k == "increase_in_confidence") return p.cam_mult;
    if (k == "deletion_auc") return p.deletion;
    if (k == "insertion_auc") return p.insertion;
    return p.road;
}

}  // namespace

const std::vector<MetricInfo>& metric_infos() {
    static const std::vector<MetricInfo> m = {
        {"average_drop", "Average Drop (%)", false, true, &GroupRow::average_drop},
        {"increase_in_confidence", "Increase in Confidence (%)", true, true, &GroupRow::increase_in_confidence},
        {"deletion_auc", "Deletion AUC", false, true, &GroupRow::deletion_auc},
        {"insertion_auc", "Insertion AUC", true, true, &GroupRow::insertion_auc},
        {"road_morf", "ROAD MoRF (mean p)", false, false, &GroupRow::road_morf},
        {"road_lerf", "ROAD LeRF (mean p)", true, false, &GroupRow::road_lerf},
        {"road_combined", "ROAD combined (LeRF-MoRF)/2", true, true, &GroupRow::road_combined},
    };
    return m;
}

const GroupRow* Summary::find(const std::string& method, const std::string& group) const {
    for (const auto& r : rows)
        if (r.method == method && r.group == group) return &r;
    return nullptr;
}

Summary summarize(const std::vector<ImageRecord>& records, const std::vector<std::string>& methods,
                  const std::vector<std::string>& class_names, const Params& params) {
    Summary s;
    s.methods = methods;
    s.params = params;
    const int k = static_cast<int>(class_names.size());
    std::vector<Acc> overall(methods.size()), correct(methods.size()), wrong(methods.size());
    std::vector<std::vector<Acc>> per_class(methods.size(), std::vector<Acc>(k));
    std::vector<int> seen;
    for (const auto& r : records) {
        if (r.method < 0 || static_cast<size_t>(r.method) >= methods.size())
            throw UsageError(format("faithfulness: record of method %d, only %zu methods", r.method, methods.size()));
        if (r.label < 0 || r.label >= k)
            throw UsageError(format("faithfulness: record with label %d, only %d classes", r.label, k));
        overall[r.method].add(r.scores, r.degenerate);
        (r.pred == r.label ? correct : wrong)[r.method].add(r.scores, r.degenerate);
        per_class[r.method][r.label].add(r.scores, r.degenerate);
        if (r.method == 0) seen.push_back(r.index);
    }
    s.n_images = methods.empty() ? 0 : overall[0].n;
    for (size_t m = 0; m < methods.size(); ++m) {
        s.rows.push_back(overall[m].row(methods[m], "overall"));
        s.rows.push_back(correct[m].row(methods[m], "correct"));
        s.rows.push_back(wrong[m].row(methods[m], "wrong"));
        for (int c = 0; c < k; ++c)
            if (per_class[m][c].n) s.rows.push_back(per_class[m][c].row(methods[m], "class:" + class_names[c]));
    }
    // Best method: mean rank over the enabled ranked metrics on the overall rows.
    std::vector<const MetricInfo*> used;
    for (const auto& mi : metric_infos())
        if (mi.ranked && metric_enabled(mi, params)) used.push_back(&mi), s.ranked_metrics.push_back(mi.key);
    std::vector<MethodRank> ranking(methods.size());
    for (size_t m = 0; m < methods.size(); ++m) ranking[m].method = methods[m];
    for (const auto* mi : used) {
        std::vector<double> v;
        for (size_t m = 0; m < methods.size(); ++m) v.push_back(overall[m].row(methods[m], "overall").*(mi->field));
        const auto r = ranks_of(v, mi->higher_is_better);
        for (size_t m = 0; m < methods.size(); ++m) ranking[m].ranks.push_back(r[m]);
    }
    for (auto& mr : ranking)
        mr.mean_rank = mr.ranks.empty() ? 1 : std::accumulate(mr.ranks.begin(), mr.ranks.end(), 0.0) / mr.ranks.size();
    auto gap = [&](const std::string& method) {
        const GroupRow* g = s.find(method, "overall");
        const double v = g ? g->insertion_auc - g->deletion_auc : kNaN;
        return std::isfinite(v) ? v : -std::numeric_limits<double>::infinity();
    };
    std::stable_sort(ranking.begin(), ranking.end(), [&](const MethodRank& a, const MethodRank& b) {
        if (!same(a.mean_rank, b.mean_rank)) return a.mean_rank < b.mean_rank;
        if (!same(gap(a.method), gap(b.method))) return gap(a.method) > gap(b.method);
        return false;  // stable: the earlier method first
    });
    s.ranking = ranking;
    if (!ranking.empty() && s.n_images > 0) {
        s.best = ranking[0].method;
        std::vector<std::string> firsts;
        for (size_t j = 0; j < used.size(); ++j)
            if (ranking[0].ranks[j] <= 1.0) firsts.push_back(used[j]->label);
        std::vector<std::string> names;
        for (const auto* mi : used) names.push_back(mi->label);
        s.best_reason =
            format("%s has the lowest mean rank (%.2f) among %zu methods over %zu metrics (%s)", s.best.c_str(),
                   ranking[0].mean_rank, methods.size(), used.size(), join(names, ", ").c_str());
        if (!firsts.empty()) s.best_reason += "; it ranks first on " + join(firsts, ", ");
    }
    return s;
}

std::vector<std::pair<std::string, std::string>> metric_definitions(const Summary& s) {
    return {
        {"target", "the model's predicted class on the clean image; every score is its softmax probability"},
        {"degenerate",
         "images whose map has no positive evidence (all zeros after ReLU and min-max: no positive contribution "
         "anywhere, or a constant map); they enter the metrics as they are"},
        {"average_drop",
         "mean over images of max(0, p - p_cam)/p x 100, p_cam = score of input x CAM (normalised "
         "input multiplied by the CAM); lower is better"},
        {"increase_in_confidence", "% of images with p_cam > p; higher is better"},
        {"deletion_auc",
         format("pixels removed (set to 0 in normalised space = the mean colour) in CAM order, highest first, in %d "
                "steps; area under p vs removed fraction (trapezoid over [0,1]); lower is better",
                s.params.steps)},
        {"insertion_auc",
         format("pixels restored in CAM order into a Gaussian-blurred copy (sigma %.2f px, radius ceil(3 sigma)), %d "
                "steps; area under p vs restored fraction; higher is better",
                s.blur_sigma, s.params.steps)},
        {"road_morf",
         "ROAD (Rong et al. 2022): mean p over the percentiles after removing that % of most relevant "
         "pixels and re-imputing them (noisy linear imputer); lower is better"},
        {"road_lerf", "ROAD: mean p after removing the least relevant pixels; higher is better"},
        {"road_combined", "(road_lerf - road_morf)/2; higher is better"},
    };
}

std::string summary_csv(const Summary& s) {
    std::string out = "method,group,n,degenerate";
    for (const auto& mi : metric_infos()) out += std::string(",") + mi.key;
    out += "\n";
    for (const auto& r : s.rows) {
        out += csv_field(r.method) + "," + csv_field(r.group) + "," + std::to_string(r.n);
        out += ',';
        out += std::to_string(r.degenerate);
        for (const auto& mi : metric_infos()) {  // not `"," + num(…)`: GCC 12 -Wrestrict false positive
            out += ',';
            out += num(r.*(mi.field));
        }
        out += "\n";
    }
    return out;
}

std::string summary_json(const Summary& s) {
    using nlohmann::json;
    json j;
    j["schema_version"] = 1;
    j["model"] = s.model_path;
    j["dataset"] = s.dataset_path;
    j["layer"] = s.layer;
    j["input"] = {s.channels, s.input_h, s.input_w};
    j["n_images"] = s.n_images;
    j["selection"] = s.selection;
    j["methods"] = s.methods;
    j["seconds"] = s.seconds;
    j["inputs"] = s.inputs;
    j["inputs_scored"] = s.inputs_scored;
    json defs = json::object();
    for (const auto& [k, v] : metric_definitions(s)) defs[k] = v;
    j["definitions"] = defs;
    j["parameters"] = {{"steps", s.params.steps},
                       {"blur_sigma", s.blur_sigma},
                       {"road_percentiles", s.params.road_percentiles},
                       {"road_noise", s.params.road_noise},
                       {"seed", s.params.seed},
                       {"metrics",
                        {{"cam_mult", s.params.cam_mult},
                         {"deletion", s.params.deletion},
                         {"insertion", s.params.insertion},
                         {"road", s.params.road}}}};
    json rows = json::array();
    for (const auto& r : s.rows) {
        json o = {{"method", r.method}, {"group", r.group}, {"n", r.n}, {"degenerate", r.degenerate}};
        for (const auto& mi : metric_infos()) {
            const double v = r.*(mi.field);
            o[mi.key] = std::isfinite(v) ? json(v) : json(nullptr);
        }
        rows.push_back(o);
    }
    j["tables"] = rows;
    json ranking = json::array();
    for (const auto& mr : s.ranking) {
        json ranks = json::object();
        for (size_t k = 0; k < s.ranked_metrics.size() && k < mr.ranks.size(); ++k)
            ranks[s.ranked_metrics[k]] = mr.ranks[k];
        ranking.push_back({{"method", mr.method}, {"mean_rank", mr.mean_rank}, {"ranks", ranks}});
    }
    j["ranking"] = ranking;
    j["best"] = {{"method", s.best.empty() ? json(nullptr) : json(s.best)},
                 {"rule", "rank the methods on each of " + join(s.ranked_metrics, ", ") +
                              " (overall group; values within 0.1 % tie and share the average rank); lowest mean "
                              "rank wins; a tie goes to the larger insertion_auc - deletion_auc"},
                 {"why", s.best_reason}};
    json checks = json::array();
    for (const auto& c : s.layer_checks)
        checks.push_back({{"method", c.method}, {"layer", c.layer}, {"map_size", {c.fh, c.fw}}, {"n", c.n},
                          {"degenerate", c.degenerate}});
    j["layer_checks"] = checks;
    j["headline"] = headline(s);
    return j.dump(2) + "\n";
}

std::vector<std::uint8_t> summary_png(const Summary& s) {
    plot::PanelBarPlot p;
    p.title = format("CAM faithfulness, %zu images (best: %s)", s.n_images, s.best.empty() ? "-" : s.best.c_str());
    p.labels = s.methods;
    for (const auto& mi : metric_infos()) {
        if (!metric_enabled(mi, s.params)) continue;
        std::vector<float> v;
        std::vector<double> dv;
        for (const auto& m : s.methods) {
            const GroupRow* g = s.find(m, "overall");
            dv.push_back(g ? g->*(mi.field) : kNaN);
            v.push_back(static_cast<float>(dv.back()));
        }
        // Rank 1 (within the tie tolerance of the rule): every method that ties for best is marked.
        const auto ranks = ranks_of(dv, mi.higher_is_better);
        std::vector<int> best;
        for (size_t i = 0; i < dv.size(); ++i)
            if (std::isfinite(dv[i]) && ranks[i] == *std::min_element(ranks.begin(), ranks.end()))
                best.push_back(static_cast<int>(i));
        p.panel_titles.push_back(std::string(mi.label) +
                                 (mi.higher_is_better ? "  (higher is better)" : "  (lower is better)"));
        p.values.push_back(v);
        p.highlight.push_back(best);
    }
    {  // Not a faithfulness metric and not ranked: how often the method had no evidence to show.
        std::vector<float> v;
        for (const auto& m : s.methods) {
            const GroupRow* g = s.find(m, "overall");
            v.push_back(g && g->n > 0 ? static_cast<float>(100.0 * double(g->degenerate) / double(g->n)) : static_cast<float>(kNaN));
        }
        p.panel_titles.push_back("Degenerate maps, % of images (no positive evidence; lower is better, not ranked)");
        p.values.push_back(v);
        p.highlight.emplace_back();
    }
    p.value_format = "%.3f";
    p.footer = "orange: best per metric (ties within 0.1 % marked); best overall: lowest mean rank";
    return plot::render_barh_panels(p);
}

std::string summary_table(const Summary& s) {
    size_t w = 6;
    for (const auto& m : s.methods) w = std::max(w, m.size());
    std::string out =
        format("%-*s  %9s  %10s  %8s  %9s  %9s  %9s  %9s  %9s  %s\n", static_cast<int>(w), "method", "avg drop%",
               "incr conf%", "deletion", "insertion", "ROAD MoRF", "ROAD LeRF", "ROAD comb", "blank%", "mean rank");
    auto cell = [](double v, const char* f) { return std::isfinite(v) ? format(f, v) : std::string("-"); };
    for (const auto& mr : s.ranking) {
        const GroupRow* g = s.find(mr.method, "overall");
        if (!g) continue;
        const double blank = g->n > 0 ? 100.0 * double(g->degenerate) / double(g->n) : kNaN;
        out += format("%-*s  %9s  %10s  %8s  %9s  %9s  %9s  %9s  %9s  %.2f%s\n", static_cast<int>(w), mr.method.c_str(),
                      cell(g->average_drop, "%.2f").c_str(), cell(g->increase_in_confidence, "%.1f").c_str(),
                      cell(g->deletion_auc, "%.4f").c_str(), cell(g->insertion_auc, "%.4f").c_str(),
                      cell(g->road_morf, "%.4f").c_str(), cell(g->road_lerf, "%.4f").c_str(),
                      cell(g->road_combined, "%.4f").c_str(), cell(blank, "%.1f").c_str(), mr.mean_rank,
                      mr.method == s.best ? "  <- best" : "");
    }
    return out;
}

std::string headline(const Summary& s) {
    if (s.best.empty()) return format("CAM faithfulness on %zu images: no result", s.n_images);
    const GroupRow* g = s.find(s.best, "overall");
    std::vector<std::string> parts;
    if (g && std::isfinite(g->deletion_auc)) parts.push_back(format("deletion AUC %.3f", g->deletion_auc));
    if (g && std::isfinite(g->insertion_auc)) parts.push_back(format("insertion AUC %.3f", g->insertion_auc));
    if (g && std::isfinite(g->average_drop)) parts.push_back(format("average drop %.1f%%", g->average_drop));
    if (g && std::isfinite(g->road_combined)) parts.push_back(format("ROAD combined %.3f", g->road_combined));
    const double mean_rank = s.ranking.empty() ? 0 : s.ranking[0].mean_rank;
    return format("CAM faithfulness on %zu images: %s scores best of %zu methods (%s; mean rank %.2f)", s.n_images,
                  s.best.c_str(), s.methods.size(), join(parts, ", ").c_str(), mean_rank);
}

}  // namespace camscope::faith

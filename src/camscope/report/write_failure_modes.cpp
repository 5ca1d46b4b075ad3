// The failure modes (failure_modes.hpp) as the report shows them: one sheet per group
// (failure_modes/<stem>.png: per mode, its most typical errors with both CAMs), summary.json's
// "failure_modes", the index.html section and the text summary's lines. Formats only.
#include <cmath>

#include <nlohmann/json.hpp>

#include "camscope/image/cam_view.hpp"
#include "camscope/render/plot.hpp"
#include "camscope/report/figures.hpp"
#include "camscope/report/writers.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

namespace {

using nlohmann::json;

std::string group_title(const Report& r, const FailureGroup& g) {
    if (g.kind == "pair")
        return format("'%s' predicted as '%s'", r.class_names[g.a].c_str(), r.class_names[g.b].c_str());
    return format("errors of '%s'", r.class_names[g.a].c_str());
}

std::string split_text(const FailureModes& f, const FailureGroup& g) {
    if (g.k > 1) return format("%d modes (mean silhouette %.2f)", g.k, g.best_silhouette);
    if (g.best_k > 0)
        return format("one mode (best split k = %d: silhouette %.2f < %.2f)", g.best_k, g.best_silhouette, f.min_silhouette);
    return "one mode (too few errors to split)";
}

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

namespace figures {

Png failure_group_png(const Report& r, const AnalysisInput& in, const FailureGroup& g) {
    const FailureModes& f = *r.failure_modes;
    plot::GridPlot p;
    p.title = format("Failure modes of the %s: %lld errors, %s", group_title(r, g).c_str(), g.errors,
                     split_text(f, g).c_str());
    p.cell = 96;
    for (int j = 0; j < f.gallery; ++j)
        for (const char* h : {"Image", "true CAM", "pred. CAM"}) p.col_headers.push_back(h);
    std::vector<std::string> notes;
    for (int id : g.modes) {
        const FailureMode& m = f.modes[id];
        std::vector<plot::Tile> row;
        for (size_t i : m.typical) {
            const RowRef& x = r.rows[i];
            Image img = row_image(in, i);
            plot::Tile t_true, t_pred, t_img;
            t_true.image = row_cam_tile(in, img, true, i);
            t_true.caption = {r.class_names[x.label], format("p %.2f", x.p_true)};
            t_true.caption_rgb = 0x007000;
            if (x.true_cam_degenerate) t_true.stamp = "no positive evidence";
            t_pred.image = row_cam_tile(in, img, false, i);
            t_pred.caption = {r.class_names[x.pred], format("p %.2f", x.confidence)};
            t_pred.caption_rgb = 0xC00000;
            if (x.pred_cam_degenerate) t_pred.stamp = "no positive evidence";
            t_img.image = std::move(img);
            t_img.caption = {format("#%d", x.index)};
            row.push_back(std::move(t_img));
            row.push_back(std::move(t_true));
            row.push_back(std::move(t_pred));
        }
        p.rows.push_back(std::move(row));
        p.row_headers.push_back(format("Mode %d: %zu (%.0f %%)", m.cluster + 1, m.rows.size(), 100 * m.share));
        notes.push_back(format("Mode %d: ", m.cluster + 1) + m.description + ".");
    }
    notes.push_back("Each row: the mode's most typical errors (nearest to its k-means centroid). CAMs scaled to [0, 1] "
                    "per image, JET colours.");
    p.footer = join(notes, "\n");
    return plot::render_grid(p);
}

}  // namespace figures

namespace report_detail {

std::vector<std::string> failure_modes_text(const Report& r) {
    std::vector<std::string> out;
    if (!r.failure_modes) return out;
    const FailureModes& f = *r.failure_modes;
    if (f.groups.empty()) {
        out.push_back(format("  Failure modes: no class has %d or more errors.", f.min_errors));
        return out;
    }
    long long split = 0;
    for (const auto& g : f.groups) split += g.k > 1;
    out.push_back(format("  Failure modes (errors grouped by their CAMs, failure_modes/): %zu groups (classes with %d or "
                         "more errors, top pairs), %lld of them split into 2 or more modes.",
                         f.groups.size(), f.min_errors, split));
    for (const auto& g : f.groups) {
        out.push_back(format("    %s (%lld errors): %s", group_title(r, g).c_str(), g.errors, split_text(f, g).c_str()));
        for (int id : g.modes) {
            const FailureMode& m = f.modes[id];
            out.push_back(format("      mode %d, %zu errors (%.0f %%): ", m.cluster + 1, m.rows.size(), 100 * m.share) +
                          m.description);
        }
    }
    return out;
}

json failure_modes_json(const Report& r) {
    if (!r.failure_modes) return nullptr;
    const FailureModes& f = *r.failure_modes;
    json groups = json::array();
    for (const auto& g : f.groups) {
        json modes = json::array();
        for (int id : g.modes) {
            const FailureMode& m = f.modes[id];
            json to = json::array();
            for (const auto& [c, n] : m.goes_to) to.push_back({{"class", c}, {"name", r.class_names[c]}, {"errors", n}});
            json typical = json::array();
            for (size_t i : m.typical) typical.push_back(r.rows[i].index);
            json rows = json::array();
            for (size_t i : m.rows) rows.push_back(i);
            modes.push_back({{"id", m.id},
                             {"mode", m.cluster + 1},
                             {"errors", m.rows.size()},
                             {"share", m.share},
                             {"mean_confidence", m.mean_confidence},
                             {"centre_share", num(m.centre_share)},
                             {"centre_n", m.centre_n},
                             {"evidence_area", num(m.evidence_area)},
                             {"centre_of_mass", {m.com_y, m.com_x}},
                             {"location", m.location},
                             {"goes_to", to},
                             {"description", m.description},
                             {"typical_indices", typical},
                             {"rows", rows}});
        }
        json o = {{"kind", g.kind},
                  {"true", g.a},
                  {"true_name", r.class_names[g.a]},
                  {"errors", g.errors},
                  {"k", g.k},
                  {"best_k", g.best_k},
                  {"best_silhouette", num(g.best_silhouette)},
                  {"reference_centre_share", num(g.reference_centre)},
                  {"reference_evidence_area", num(g.reference_area)},
                  {"file", g.file},
                  {"modes", modes}};
        if (g.kind == "pair") {
            o["pred"] = g.b;
            o["pred_name"] = r.class_names[g.b];
        }
        groups.push_back(std::move(o));
    }
    return {{"criterion", failure_modes_criterion(f)},
            {"features", "true-class CAM, predicted-class CAM and their difference at the layer's resolution "
                         "(penultimate features are not recorded by the pass)"},
            {"evidence_area", "share of the predicted-class CAM (layer resolution) at or above half its maximum"},
            {"min_errors", f.min_errors},
            {"max_k", f.max_k},
            {"min_silhouette", f.min_silhouette},
            {"top_pairs", f.top_pairs},
            {"grid", {f.grid_h, f.grid_w}},
            {"groups", groups}};
}

std::string failure_modes_html(const Report& r, const std::vector<WrittenFile>& files) {
    if (!r.failure_modes) return {};
    const FailureModes& f = *r.failure_modes;
    std::string h = "<h2 id=\"failure-modes\">Failure modes: errors grouped by where the model looks</h2>\n<p>" +
                    html_escape(failure_modes_criterion(f)) + ".</p>\n";
    if (f.groups.empty())
        return h + "<p>" + html_escape(format("No class has %d or more errors.", f.min_errors)) + "</p>\n";
    for (const auto& g : f.groups) {
        h += "<details><summary>" +
             html_escape(format("%s: %lld errors, %s", group_title(r, g).c_str(), g.errors, split_text(f, g).c_str())) +
             "</summary><ul>";
        for (int id : g.modes) {
            const FailureMode& m = f.modes[id];
            h += "<li>" + html_escape(format("Mode %d, %zu errors (%.0f %%): ", m.cluster + 1, m.rows.size(), 100 * m.share) +
                                      m.description) + "</li>";
        }
        h += "</ul>";
        for (const auto& wf : files)
            if (wf.name == g.file)
                h += "<p><a href=\"" + html_escape(wf.name) + "\">" + html_escape(wf.name) +
                     "</a><br><img loading=\"lazy\" alt=\"" + html_escape(wf.description) +
                     "\" src=\"data:image/png;base64," + base64(wf.png) + "\"></p>";
        h += "</details>\n";
    }
    return h;
}

}  // namespace report_detail

}  // namespace camscope

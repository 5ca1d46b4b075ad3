// The flip test's formats: CSV, summary.json's "flip_test", text lines, the index.html section and
// the sheets of flip_test/. Every number comes from Report::flips (report/flips.hpp).
#include "camscope/report/write_flips.hpp"

#include <algorithm>
#include <cmath>

#include "camscope/render/plot.hpp"
#include "camscope/report/writers.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::report_detail {

using nlohmann::json;

namespace {

constexpr FlipOutcome kOutcomes[] = {FlipOutcome::flips_to_true, FlipOutcome::stays, FlipOutcome::flips_elsewhere};

std::string name_of(const Report& r, int c) {
    return c >= 0 && c < static_cast<int>(r.class_names.size()) ? r.class_names[c] : std::to_string(c);
}

json counts_json(const FlipCounts& c) {
    return {{"tested", c.tested},
            {"distractor", c.distractor},
            {"missing", c.missing},
            {"unstable", c.unstable},
            {"distractor_share", c.share(FlipOutcome::flips_to_true)},
            {"missing_share", c.share(FlipOutcome::stays)},
            {"unstable_share", c.share(FlipOutcome::flips_elsewhere)}};
}

constexpr std::size_t kPairsListed = 15;  // per_pair entries in summary.json and the HTML table

}  // namespace

std::string flips_csv(const Report& r) {
    std::string s = "row,index,true,true_name,pred,pred_name,confidence,after,after_name,p_after,p_pred_after,"
                    "p_true_after,outcome,kind\n";
    if (!r.flips) return s;
    for (const auto& f : r.flips->rows)
        s += format("%zu,%d,%d,", f.row, f.index, f.label) + csv_field(name_of(r, f.label)) + format(",%d,", f.pred) +
             csv_field(name_of(r, f.pred)) + format(",%.6g,%d,", f.confidence, f.after) + csv_field(name_of(r, f.after)) +
             format(",%.6g,%.6g,%.6g,%s,%s\n", f.p_after, f.p_pred_after, f.p_true_after, flip_outcome_name(f.outcome),
                    flip_kind(f.outcome));
    return s;
}

json flips_json(const Report& r) {
    if (!r.flips) return nullptr;
    const FlipSummary& f = *r.flips;
    json per_class = json::array();
    for (const auto& g : f.per_class) {
        json e = {{"class", g.a}, {"name", name_of(r, g.a)}};
        e.update(counts_json(g.counts));
        per_class.push_back(e);
    }
    json per_pair = json::array();
    for (std::size_t i = 0; i < std::min(kPairsListed, f.per_pair.size()); ++i) {
        const auto& g = f.per_pair[i];
        json e = {{"true", g.a}, {"true_name", name_of(r, g.a)}, {"pred", g.b}, {"pred_name", name_of(r, g.b)}};
        e.update(counts_json(g.counts));
        per_pair.push_back(e);
    }
    json per_mode = json::array();  // failure modes (summary.json's "failure_modes": modes[id])
    for (const auto& g : f.per_mode) {
        json e = {{"mode", g.mode}, {"class", g.a}, {"name", name_of(r, g.a)}};
        e.update(counts_json(g.counts));
        per_mode.push_back(e);
    }
    json rows = json::array();
    for (const auto& x : f.rows)
        rows.push_back({{"row", x.row},
                        {"index", x.index},
                        {"true", x.label},
                        {"pred", x.pred},
                        {"confidence", x.confidence},
                        {"after", x.after},
                        {"p_after", x.p_after},
                        {"p_pred_after", x.p_pred_after},
                        {"p_true_after", x.p_true_after},
                        {"outcome", flip_outcome_name(x.outcome)},
                        {"kind", flip_kind(x.outcome)}});
    json sheets = json::array();
    for (const auto& sh : f.sheets) sheets.push_back({{"file", sh.file}, {"title", sh.title}, {"rows", sh.rows.size()}});
    json j = {{"headline", flips_headline(f)},
              {"fraction", f.fraction},
              {"imputation", "ROAD noisy linear (Rong et al. 2022), as the faithfulness check"},
              {"method", f.method()},
              {"noise", f.noise},
              {"seed", f.seed},
              {"selection", f.selection},
              {"errors", f.errors},
              {"blank_left_out", f.blank},
              {"eligible", f.eligible},
              {"forwards", f.forwards},
              {"per_class", per_class},
              {"per_pair", per_pair},
              {"pairs_listed", per_pair.size()},
              {"per_mode", per_mode},
              {"rows", rows},
              {"sheets", sheets},
              {"file", "flip_test/flip_test.csv"}};
    j.update(counts_json(f.overall));
    return j;
}

std::vector<std::string> flips_text(const Report& r) {
    std::vector<std::string> out;
    if (!r.flips) return out;
    const FlipSummary& f = *r.flips;
    out.push_back(flips_headline(f) + ".");
    for (FlipOutcome o : kOutcomes) {
        std::vector<const FlipGroup*> pairs;
        for (const auto& g : f.per_pair)
            if (g.counts.of(o) > 0) pairs.push_back(&g);
        std::stable_sort(pairs.begin(), pairs.end(),
                         [o](const FlipGroup* x, const FlipGroup* y) { return x->counts.of(o) > y->counts.of(o); });
        std::vector<std::string> items;
        for (std::size_t i = 0; i < std::min<std::size_t>(3, pairs.size()); ++i)
            items.push_back(format("'%s' -> '%s' %lld of %lld", name_of(r, pairs[i]->a).c_str(),
                                   name_of(r, pairs[i]->b).c_str(), pairs[i]->counts.of(o), pairs[i]->counts.tested));
        if (!items.empty()) out.push_back(std::string("  most ") + flip_kind_label(o) + ": " + join(items, "; ") + ".");
    }
    std::vector<std::string> modes;  // the most tested failure modes
    for (std::size_t i = 0; i < std::min<std::size_t>(3, f.per_mode.size()); ++i) {
        const auto& g = f.per_mode[i];
        modes.push_back(format("mode %d of '%s' %lld distractor, %lld missing, %lld unstable of %lld", g.mode,
                               name_of(r, g.a).c_str(), g.counts.distractor, g.counts.missing, g.counts.unstable,
                               g.counts.tested));
    }
    if (!modes.empty()) out.push_back("  by failure mode: " + join(modes, "; ") + ".");
    out.push_back("  Selection: " + f.selection + " (flip_test/flip_test.csv).");
    return out;
}

std::string flips_html(const Report& r) {
    if (!r.flips) return {};
    const FlipSummary& f = *r.flips;
    std::string h = "<h2>Flip test: remove the evidence, see what the model says</h2>\n<p>" +
                    html_escape(flips_headline(f)) + ". " +
                    html_escape("Each tested error has " + f.method() +
                                "; distractor evidence: the prediction turns to the true class; missing true "
                                "evidence: it stays wrong; unstable: a third class. Selection: " + f.selection) +
                    ". Table: <a href=\"flip_test/flip_test.csv\">flip_test/flip_test.csv</a>.</p>\n";
    if (!f.per_pair.empty()) {
        h += "<table><tr><th>true</th><th>predicted</th><th>tested</th><th>distractor</th><th>missing</th>"
             "<th>unstable</th></tr>";
        for (std::size_t i = 0; i < std::min(kPairsListed, f.per_pair.size()); ++i) {
            const auto& g = f.per_pair[i];
            h += "<tr><td>" + html_escape(name_of(r, g.a)) + "</td><td>" + html_escape(name_of(r, g.b)) +
                 format("</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>", g.counts.tested,
                        g.counts.distractor, g.counts.missing, g.counts.unstable);
        }
        h += "</table>\n";
    }
    if (!f.per_mode.empty()) {  // the failure modes' ids are those of the "Failure modes" section
        h += "<table><tr><th>failure mode</th><th>class</th><th>tested</th><th>distractor</th><th>missing</th>"
             "<th>unstable</th></tr>";
        for (std::size_t i = 0; i < std::min(kPairsListed, f.per_mode.size()); ++i) {
            const auto& g = f.per_mode[i];
            h += format("<tr><td>%d</td><td>", g.mode) + html_escape(name_of(r, g.a)) +
                 format("</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>", g.counts.tested,
                        g.counts.distractor, g.counts.missing, g.counts.unstable);
        }
        h += "</table>\n";
    }
    return h;
}

figures::Png flip_sheet_png(const Report& r, const AnalysisInput& in, const FlipSheet& sheet) {
    const FlipSummary& f = *r.flips;
    plot::GridPlot g;
    g.title = sheet.title;
    g.col_headers = {"image (true class)", "predicted-class CAM", format("top %g%% removed", 100 * f.fraction)};
    for (std::size_t i : sheet.rows) {
        const FlipRow& x = f.rows[i];
        const Image img = figures::row_image(in, x.row);
        std::vector<plot::Tile> row(3);
        row[0].image = img;
        row[0].caption = {format("#%d", x.index), "true '" + name_of(r, x.label) + "'"};
        row[1].image = figures::row_cam_tile(in, img, false, x.row);
        row[1].caption = {"pred '" + name_of(r, x.pred) + "'", format("p %.2f", x.confidence)};
        row[1].caption_rgb = 0xC00000;
        const auto it = f.removed_images.find(x.row);
        if (it != f.removed_images.end()) row[2].image = it->second;
        row[2].caption = {"now '" + name_of(r, x.after) + "'",
                          format("p %.2f; %s", x.p_after, flip_kind(x.outcome))};
        row[2].caption_rgb = x.outcome == FlipOutcome::flips_to_true ? 0x007000
                             : x.outcome == FlipOutcome::stays       ? 0xC00000
                                                                     : 0xB06000;
        g.rows.push_back(std::move(row));
    }
    g.footer = format("Removed: the top %g%% of the predicted-class CAM (ROAD noisy linear imputation). Green: the "
                      "true class again; red: the same error; orange: a third class.",
                      100 * f.fraction);
    return plot::render_grid(g);
}

}  // namespace camscope::report_detail

#include "camscope/report/flips.hpp"

#include <algorithm>
#include <cmath>

#include "camscope/report/recommend.hpp"
#include "camscope/report/report.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

const char* flip_outcome_name(FlipOutcome o) {
    switch (o) {
        case FlipOutcome::stays: return "stays";
        case FlipOutcome::flips_to_true: return "flips_to_true";
        case FlipOutcome::flips_elsewhere: return "flips_elsewhere";
    }
    return "?";
}

const char* flip_kind(FlipOutcome o) {
    switch (o) {
        case FlipOutcome::stays: return "missing";
        case FlipOutcome::flips_to_true: return "distractor";
        case FlipOutcome::flips_elsewhere: return "unstable";
    }
    return "?";
}

const char* flip_kind_label(FlipOutcome o) {
    switch (o) {
        case FlipOutcome::stays: return "missing true evidence";
        case FlipOutcome::flips_to_true: return "distractor evidence";
        case FlipOutcome::flips_elsewhere: return "unstable";
    }
    return "?";
}

void FlipCounts::add(FlipOutcome o) {
    ++tested;
    switch (o) {
        case FlipOutcome::stays: ++missing; break;
        case FlipOutcome::flips_to_true: ++distractor; break;
        case FlipOutcome::flips_elsewhere: ++unstable; break;
    }
}

long long FlipCounts::of(FlipOutcome o) const {
    switch (o) {
        case FlipOutcome::stays: return missing;
        case FlipOutcome::flips_to_true: return distractor;
        case FlipOutcome::flips_elsewhere: return unstable;
    }
    return 0;
}

double FlipCounts::share(FlipOutcome o) const { return tested > 0 ? double(of(o)) / double(tested) : 0.0; }

std::string FlipSummary::method() const {
    return format("the top %g%% of the predicted class's CAM (at the input size) removed and re-imputed by ROAD's "
                  "noisy linear imputation (noise %g)",
                  100 * fraction, noise);
}

void summarize_flips(FlipSummary& s, const std::vector<std::string>& class_names, std::size_t sheet_rows,
                     std::size_t pair_sheets, const std::vector<int>& mode_of_row) {
    s.overall = {};
    s.per_class.clear();
    s.per_pair.clear();
    s.per_mode.clear();
    s.sheets.clear();
    std::map<int, FlipCounts> by_class;
    std::map<std::pair<int, int>, FlipCounts> by_pair;
    std::map<int, std::pair<int, FlipCounts>> by_mode;  // mode -> (its class, counts)
    auto mode_of = [&](std::size_t row) { return row < mode_of_row.size() ? mode_of_row[row] : -1; };
    for (const auto& f : s.rows) {
        s.overall.add(f.outcome);
        by_class[f.label].add(f.outcome);
        by_pair[{f.label, f.pred}].add(f.outcome);
        if (const int m = mode_of(f.row); m >= 0) {
            by_mode[m].first = f.label;
            by_mode[m].second.add(f.outcome);
        }
    }
    const auto most_tested = [](const FlipGroup& x, const FlipGroup& y) { return x.counts.tested > y.counts.tested; };
    for (const auto& [c, n] : by_class) s.per_class.push_back({c, -1, -1, n});
    for (const auto& [p, n] : by_pair) s.per_pair.push_back({p.first, p.second, -1, n});
    for (const auto& [m, cn] : by_mode) s.per_mode.push_back({cn.first, -1, m, cn.second});
    std::stable_sort(s.per_pair.begin(), s.per_pair.end(), most_tested);
    std::stable_sort(s.per_mode.begin(), s.per_mode.end(), most_tested);
    // Most confident errors first, ties by row: the sheets show the clearest cases.
    auto by_confidence = [&](std::vector<std::size_t>& v) {
        std::stable_sort(v.begin(), v.end(),
                         [&](std::size_t x, std::size_t y) { return s.rows[x].confidence > s.rows[y].confidence; });
        if (v.size() > sheet_rows) v.resize(sheet_rows);
    };
    auto name = [&](int c) {
        return c >= 0 && static_cast<std::size_t>(c) < class_names.size() ? class_names[c] : std::to_string(c);
    };
    for (FlipOutcome o : {FlipOutcome::flips_to_true, FlipOutcome::stays, FlipOutcome::flips_elsewhere}) {
        FlipSheet sh;
        for (std::size_t i = 0; i < s.rows.size(); ++i)
            if (s.rows[i].outcome == o) sh.rows.push_back(i);
        if (sh.rows.empty()) continue;
        by_confidence(sh.rows);
        sh.file = std::string("flip_test/") + flip_kind(o) + ".png";
        sh.title = format("Flip test: %s (%lld of %lld tested errors)", flip_kind_label(o), s.overall.of(o),
                          s.overall.tested);
        s.sheets.push_back(std::move(sh));
    }
    std::size_t pairs = 0;
    for (const auto& g : s.per_pair) {
        if (pairs >= pair_sheets || g.counts.tested < 2) break;
        FlipSheet sh;
        for (std::size_t i = 0; i < s.rows.size(); ++i)
            if (s.rows[i].label == g.a && s.rows[i].pred == g.b) sh.rows.push_back(i);
        by_confidence(sh.rows);
        sh.file = format("flip_test/pair_%d_%d.png", g.a, g.b);
        sh.title = format("Flip test: '%s' predicted as '%s': %lld distractor, %lld missing, %lld unstable of %lld",
                          name(g.a).c_str(), name(g.b).c_str(), g.counts.distractor, g.counts.missing,
                          g.counts.unstable, g.counts.tested);
        s.sheets.push_back(std::move(sh));
        ++pairs;
    }
    std::size_t modes = 0;
    for (const auto& g : s.per_mode) {
        if (modes >= pair_sheets || g.counts.tested < 2) break;
        FlipSheet sh;
        for (std::size_t i = 0; i < s.rows.size(); ++i)
            if (mode_of(s.rows[i].row) == g.mode) sh.rows.push_back(i);
        by_confidence(sh.rows);
        sh.file = format("flip_test/mode_%d.png", g.mode);
        sh.title = format("Flip test: failure mode %d of '%s': %lld distractor, %lld missing, %lld unstable of %lld",
                          g.mode, name(g.a).c_str(), g.counts.distractor, g.counts.missing, g.counts.unstable,
                          g.counts.tested);
        s.sheets.push_back(std::move(sh));
        ++modes;
    }
}

std::string flips_headline(const FlipSummary& s) {
    const FlipCounts& c = s.overall;
    auto pc = [&](FlipOutcome o) { return format("%.0f%%", 100 * c.share(o)); };
    std::string h = format("Flip test (top %g%% of the predicted class's CAM removed, ROAD noisy linear imputation) on "
                           "%lld of %zu errors",
                           100 * s.fraction, c.tested, s.errors);
    if (c.tested == 0) return h + ": nothing tested";
    return h + format(": %lld distractor evidence (%s, back to the true class), %lld missing true evidence (%s, still "
                      "wrong), %lld unstable (%s, a third class)",
                      c.distractor, pc(FlipOutcome::flips_to_true).c_str(), c.missing, pc(FlipOutcome::stays).c_str(),
                      c.unstable, pc(FlipOutcome::flips_elsewhere).c_str());
}

void attach_flips(Report& r, FlipSummary s) {
    r.flips = std::move(s);
    r.recommendations = rules::recommend(r, r.params);
}

}  // namespace camscope

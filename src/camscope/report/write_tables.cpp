// CSV files of the report (RFC 4180 quoting; numbers with enough digits to round-trip a share).
#include <cmath>

#include "camscope/report/writers.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::report_detail {

namespace {
std::string num(double v) {
    if (!std::isfinite(v)) return "";
    return format("%.6g", v);
}
}  // namespace

std::string pct(double v) {
    if (!std::isfinite(v)) return "n/a";
    return format("%.1f%%", 100.0 * v);
}

std::string pct_ci(double v, const intervals::Interval& i) {
    if (!i.defined()) return pct(v);
    return pct(v) + format(" (%.1f\u2013%.1f%%)", 100.0 * i.lo, 100.0 * i.hi);
}

std::string temperature_label(const metrics::TemperatureFit& cal, int decimals) {
    return format("T = %.*f", decimals, cal.temperature) +
           (cal.bound != 0 ? format(" (the %s searched)", cal.bound_name()) : std::string());
}

// Rows = true class, columns = predicted class, both in class-index order; the first column
// names the true class.
std::string confusion_csv(const metrics::ConfusionMatrix& cm, const std::vector<std::string>& class_names) {
    // Appended piece by piece: `s += "," + field` makes GCC 12 warn (-Wrestrict, a false positive).
    std::string s = "true\\predicted";
    for (const auto& name : class_names) {
        s += ',';
        s += csv_field(name);
    }
    s += "\n";
    for (int t = 0; t < cm.k; ++t) {
        s += csv_field(class_names[t]);
        for (int p = 0; p < cm.k; ++p) {
            s += ',';
            s += std::to_string(cm.at(t, p));
        }
        s += "\n";
    }
    return s;
}

std::string confusion_csv(const Report& r) { return confusion_csv(r.confusion, r.class_names); }

// The 95 % intervals (report/intervals.hpp) come last, so readers by column position still read the
// earlier columns: accuracy and precision (Wilson), the CAM centre shares (bootstrap; empty where no
// map with evidence) and the blank predicted-class-map share (Wilson; empty where never predicted).
std::string per_class_csv(const Report& r) {
    std::string s =
        "class_index,class_name,support,accuracy,precision,f1,mean_confidence,most_confused_with,most_confused_count,"
        "accuracy_ci_lo,accuracy_ci_hi,precision_ci_lo,precision_ci_hi,centre_share_correct,centre_share_correct_ci_lo,"
        "centre_share_correct_ci_hi,centre_share_wrong,centre_share_wrong_ci_lo,centre_share_wrong_ci_hi,"
        "blank_cam_share,blank_cam_share_ci_lo,blank_cam_share_ci_hi\n";
    for (const auto& c : r.per_class) {
        const FocusStats& f = r.focus_per_class[c.cls];
        const metrics::CamCount& blank = r.degenerate.by_pred_class[c.cls];
        s += std::to_string(c.cls) + "," + csv_field(r.class_names[c.cls]) + "," + std::to_string(c.support) + "," +
             num(c.recall) + "," + num(c.precision) + "," + num(c.f1) + "," + num(c.mean_confidence) + "," +
             (c.most_confused_with >= 0 ? csv_field(r.class_names[c.most_confused_with]) : "") + "," +
             std::to_string(c.most_confused_count) + "," + num(c.recall_ci.lo) + "," + num(c.recall_ci.hi) + "," +
             num(c.precision_ci.lo) + "," + num(c.precision_ci.hi) + "," + num(f.centre_correct) + "," +
             num(f.centre_correct_ci.lo) + "," + num(f.centre_correct_ci.hi) + "," + num(f.centre_wrong) + "," +
             num(f.centre_wrong_ci.lo) + "," + num(f.centre_wrong_ci.hi) + "," +
             (blank.maps > 0 ? num(blank.share()) : "") + "," + num(blank.share_ci().lo) + "," +
             num(blank.share_ci().hi) + "\n";
    }
    return s;
}

// kind = directed:  a = true class, b = predicted class, count = images of a predicted as b,
//                   rate = count / support(a), count_ab = count, count_ba = images of b predicted as a.
// kind = symmetric: {a, b} with a < b, count = count_ab + count_ba,
//                   rate = count / (support(a) + support(b)).
// Every non-zero pair is listed; rank restarts at 1 for each kind. rate_ci_lo, rate_ci_hi: the
// rate's 95 % Wilson interval (last, so readers by position still read the earlier columns).
std::string pairs_csv(const Report& r) {
    std::string s = "kind,rank,a_index,a_name,b_index,b_name,count,rate,count_ab,count_ba,rate_ci_lo,rate_ci_hi\n";
    int rank = 0;
    for (const auto& p : r.directed)
        s += format("directed,%d,%d,", ++rank, p.a) + csv_field(r.class_names[p.a]) + format(",%d,", p.b) +
             csv_field(r.class_names[p.b]) + format(",%lld,", p.count) + num(p.rate) +
             format(",%lld,%lld,", p.count, r.confusion.at(p.b, p.a)) + num(p.rate_ci.lo) + "," + num(p.rate_ci.hi) +
             "\n";
    rank = 0;
    for (const auto& p : r.symmetric)
        s += format("symmetric,%d,%d,", ++rank, p.a) + csv_field(r.class_names[p.a]) + format(",%d,", p.b) +
             csv_field(r.class_names[p.b]) + format(",%lld,", p.count) + num(p.rate) +
             format(",%lld,%lld,", p.count_ab, p.count_ba) + num(p.rate_ci.lo) + "," + num(p.rate_ci.hi) + "\n";
    return s;
}

}  // namespace camscope::report_detail

#include "camscope/faith/sanity.hpp"

#include <cmath>

#include "camscope/util/strings.hpp"

namespace camscope::faith {

const char* const kSanityRandomisation =
    "each parameter tensor of a randomised module is redrawn from N(0, s^2), s = that tensor's own standard "
    "deviation (1 where it is 0), seeded; buffers such as batch-norm statistics are kept";
const char* const kSanityComparison =
    "maps at the input size; per image Spearman rank correlation (average ranks for ties; 0 when only one map "
    "is constant) and SSIM (7x7 uniform windows inside the map, data range 1, as scikit-image), averaged over "
    "the sample";

namespace {

std::string num(double v) { return std::isfinite(v) ? format("%.4f", v) : ""; }

std::string row(const SanitySummary& s, const char* test, int step, const SanityStep& r, bool fails) {
    return format("%s,%d,%s,%d,%lld,%lld,%s,%s,%s,%d\n", test, step, csv_field(r.layer).c_str(), r.modules, r.n,
                  r.blank, num(r.spearman).c_str(), num(r.ssim).c_str(), num(s.threshold).c_str(), fails ? 1 : 0);
}

}  // namespace

std::string sanity_csv(const SanitySummary& s) {
    std::string out = "test,step,layer,modules_randomised,n,blank,spearman,ssim,threshold,fails\n";
    for (size_t i = 0; i < s.cascade.size(); ++i)
        out += row(s, "cascade", static_cast<int>(i + 1), s.cascade[i],
                   i + 1 == s.cascade.size() && s.cascade_fails());
    if (s.random_logit.n > 0) out += row(s, "random_logit", 0, s.random_logit, s.logit_fails());
    return out;
}

std::string sanity_headline(const SanitySummary& s) {
    std::string parts;
    if (!s.cascade.empty()) {
        const auto& last = s.cascade.back();
        parts = format("with every module above '%s' randomised (%d), Spearman %.2f, SSIM %.2f", s.layer.c_str(),
                       last.modules, last.spearman, last.ssim);
    } else {
        parts = "no module with parameters above the layer to randomise";
    }
    if (s.random_logit.n > 0)
        parts += format("; a random other class's map: Spearman %.2f, SSIM %.2f", s.random_logit.spearman,
                        s.random_logit.ssim);
    return format("%s on %lld images (threshold %.2f): ", s.passed() ? "passed" : "FAILED", s.n, s.threshold) + parts;
}

std::vector<std::string> sanity_warning(const SanitySummary& s) {
    if (s.passed()) return {};
    std::vector<std::string> out;
    if (s.cascade_fails())
        out.push_back(format("WARNING: the %s maps at layer '%s' barely change when the model's weights above that "
                             "layer are randomised (mean Spearman %.2f >= %.2f, SSIM %.2f, %lld images).",
                             s.method.c_str(), s.layer.c_str(), s.cascade.back().spearman, s.threshold,
                             s.cascade.back().ssim, s.cascade.back().n));
    if (s.logit_fails())
        out.push_back(format("WARNING: the %s maps for a random other class look like those of the predicted class "
                             "(mean Spearman %.2f >= %.2f, SSIM %.2f, %lld images).",
                             s.method.c_str(), s.random_logit.spearman, s.threshold, s.random_logit.ssim,
                             s.random_logit.n));
    out.push_back("The CAM figures of this report may show the input or the layer rather than what the model used "
                  "(sanity checks, Adebayo et al. 2018): see sanity.csv; try another --method or --layer.");
    return out;
}

}  // namespace camscope::faith

#pragma once
// The sanity gate's result (pipeline/sanity.hpp runs it): do the report's maps depend on the model?
// Adebayo et al. 2018 ("Sanity Checks for Saliency Maps", NeurIPS), section 3: the cascading model
// parameter randomisation test (randomise the layers from the output down, one more at each step,
// and compare each step's maps with the original ones) and, as Quantus' Random Logit metric
// (Sixt et al. 2020), the map for a random other class on the unchanged model. A map that stays
// the same when what it claims to explain changes explains nothing. Torch-free; the formats here
// only print what the pipeline measured.
#include <cstdint>
#include <string>
#include <vector>

namespace camscope::faith {

/// One comparison on the sample: mean similarity of the original maps with the changed ones.
struct SanityStep {
    /// Cascade: the deepest module randomised so far (every module from the output down to it is
    /// randomised); "random logit" for the random-logit row.
    std::string layer;
    int modules = 0;         // cascade: modules randomised so far (0 for the random-logit row)
    long long n = 0;         // images compared
    long long blank = 0;     // changed maps with no positive evidence (their Spearman is 0), over all draws
    double spearman = 0;     // mean Spearman rank correlation (faith/similarity.hpp), over images and draws
    double ssim = 0;         // mean SSIM (7×7 windows, data range 1), over images and draws
};

struct SanitySummary {
    std::string method, layer;  // the report's maps
    long long n = 0;            // images of the sample (non-blank predicted-class maps)
    long long requested = 0;    // AnalysisParams::sanity_images
    std::uint64_t seed = 0;
    int draws = 1;              // independent randomisations per cascade step, similarities averaged
    double threshold = 0.5;     // fail: mean Spearman >= this (AnalysisParams::sanity_threshold)
    int map_h = 0, map_w = 0;   // where the maps are compared (the input size)
    std::vector<SanityStep> cascade;  // output end first; the last step has every module above the layer randomised
    SanityStep random_logit;
    double seconds = 0;
    /// The maps survive the randomisation of everything above the layer: the last cascade step's
    /// mean Spearman is at or above the threshold.
    bool cascade_fails() const { return !cascade.empty() && cascade.back().spearman >= threshold; }
    /// The maps for a random other class are the predicted class's maps (mean Spearman >= threshold).
    bool logit_fails() const { return random_logit.n > 0 && random_logit.spearman >= threshold; }
    bool passed() const { return !cascade_fails() && !logit_fails(); }
};

/// How the parameters are randomised and the maps compared (one sentence each; the report quotes them).
extern const char* const kSanityRandomisation;
extern const char* const kSanityComparison;

/// sanity.csv: test, step, layer, modules_randomised, n, blank, spearman, ssim, threshold, fails.
std::string sanity_csv(const SanitySummary& s);
/// One line: "passed: ..." / "FAILED: ..." with the last cascade step and the random-logit row.
std::string sanity_headline(const SanitySummary& s);
/// The warning at the top of the report and on the CAM figures; empty when the gate passes.
std::vector<std::string> sanity_warning(const SanitySummary& s);

}  // namespace camscope::faith

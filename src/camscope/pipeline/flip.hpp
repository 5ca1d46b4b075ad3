#pragma once
// The flip test's run (issue 25, part 2; the results and their counting: report/flips.hpp): for a
// sample of the report's errors, remove the top `fraction` of the pixels of the predicted class's
// CAM (the pass's map at the layer's resolution, brought to the input size by cams_at_input_size;
// pixels ranked by faith::rank_pixels) with ROAD's noisy linear imputation
// (faith::impute_noisy_linear, the faithfulness check's ROAD), run the model on the result (one
// plain forward per image, batched, no CAMs) and record where the prediction goes.
// Torch-free: the model through engine.hpp's facade.
#include <cstddef>
#include <cstdint>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/report/analysis.hpp"

namespace camscope {

struct FlipSettings {
    /// At most this many errors are tested (0 = the test is off). Unless `explicit_n`, also at most
    /// max(16, analysed/16) (flip_sample_size), so the test costs about 1/16 of a plain forward pass
    /// over the analysed images (plus the imputations).
    std::size_t n = 1000;
    bool explicit_n = false;
    double fraction = 0.2;   // k: share of the input's pixels removed, in (0, 1)
    double noise = 0.01;     // imputation noise (faith::Params::road_noise's default)
    std::uint64_t seed = 0;  // base seed of the noise: image i uses faith::mix_seed(seed, dataset index)
    int batch_size = 64;
    bool progress = true;
    /// Throws UsageError naming the bad field.
    void validate() const;
};

/// How many of `eligible` errors are tested: min(n, eligible), and unless explicit_n also at most
/// max(16, analysed / 16).
std::size_t flip_sample_size(const FlipSettings& s, std::size_t analysed, std::size_t eligible);

/// The pixels removed from an input of `hw` pixels: the first round(fraction·hw) of
/// faith::rank_pixels(cam) (cam: H×W at the input size), as a mask of hw entries.
std::vector<std::uint8_t> flip_mask(const float* cam, std::size_t hw, double fraction);

/// The flip test on the errors of `r` (rows in `in`: dataset indices, the predicted-class CAMs at
/// the layer's resolution). The eligible errors (predicted-class map with positive evidence) in
/// row order; flip_sample_size of them evenly spread over that list (spread_indices: entry
/// floor(j·eligible/m), j = 0..m-1; no randomness). Images are read from `data` by their dataset
/// index and prepared with `spec`. Returns the summary with its counts and sheets
/// (summarize_flips) and the removed-evidence images of the sheets' rows.
FlipSummary run_flip_test(Model& model, const Dataset& data, const InputSpec& spec, const Report& r,
                          const AnalysisInput& in, const FlipSettings& s);

}  // namespace camscope

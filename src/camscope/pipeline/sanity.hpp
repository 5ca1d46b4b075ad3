#pragma once
// The sanity gate of the report's maps (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): on a
// small seeded sample, the report's CAMs (method, layer and settings as analysed; target = the
// predicted class) are recomputed on copies of the model with the modules above the layer
// randomised, from the output down, one more at each step (the cascading model parameter
// randomisation test, Quantus' MPRT), and for a random other class on the model as it is (Quantus'
// Random Logit); each is compared with the original map (faith/similarity.hpp). The result, and the
// gate, is faith::SanitySummary (faith/sanity.hpp). Torch-free (engine facade only).
#include <cstddef>
#include <cstdint>
#include <optional>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/faith/sanity.hpp"
#include "camscope/report/report.hpp"

namespace camscope {

struct SanityOptions {
    /// Images compared (0 = off): one per stratum of the report's rows whose predicted-class map is
    /// not blank, split into this many equal strata in row order, chosen uniformly in its stratum.
    std::size_t images = 16;
    double threshold = 0.5;   // faith::SanitySummary::threshold
    std::uint64_t seed = 0;   // the sample, the random classes and the randomised weights
    /// Independent randomisations per cascade step (seeds seed, seed + 1, ...), their similarities
    /// averaged: one draw of a small head decides the sign of many maps at once (every image
    /// predicted as one class shares its randomised row), so a single draw is noisy.
    int draws = 3;
    /// At most this many cascade steps: with more modules above the layer, consecutive modules are
    /// randomised together so that the last step still randomises all of them.
    int max_steps = 8;
    int batch_size = 64;
};

/// The sanity gate of the maps of report `r` (its rows, predictions and blank flags; the CAM
/// settings `cam` of the pass, one resolved layer) for model `m` on `data` (the report's dataset,
/// images read by dataset index). nullopt when off or when fewer than 2 rows have a non-blank
/// predicted-class map. Throws what Model::run throws.
std::optional<faith::SanitySummary> sanity_gate(const Report& r, Model& m, const Dataset& data, const InputSpec& spec,
                                                const CamSettings& cam, const SanityOptions& opt);

}  // namespace camscope

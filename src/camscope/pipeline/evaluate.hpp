#pragma once
// CAM faithfulness over a dataset (`camscope evaluate-cams`, and the line in `camscope analyze`):
// pick N images spread evenly over the dataset, compute each CAM method's map of the predicted
// class, perturb the image per faith/faithfulness.hpp and score every perturbed input through the
// model in batches, then aggregate (faith/summary.hpp). Torch-free: uses the engine facade only.
#include <cstddef>
#include <string>
#include <vector>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/faith/summary.hpp"

namespace camscope {

struct EvaluateOptions {
    std::vector<std::string> methods;  // CAM methods (validated against cam_methods())
    std::vector<std::string> layers;   // resolved layer paths (empty = the automatic choice)
    /// Settings of every CAM request (eigen_smooth, aug_smooth, max_channels, alpha); its method
    /// and layers are replaced per call by `methods` and `layers` (and the layer checks').
    CamSettings cam_options;
    std::size_t n = 200;  // images (0 or more than the dataset: all)
    int batch_size = 64;  // inputs per forward pass (CAMs and scoring)
    faith::Params params;
    bool progress = true;
    std::string label = "faithfulness";  // progress-bar label
    /// Also count the degenerate predicted-class maps of `check_method` at each of `check_layers` on
    /// the same images (Summary::layer_checks): one more CAM pass per layer, no perturbations.
    std::string check_method;
    std::vector<std::string> check_layers;
};

/// Candidate target layers for Summary::layer_checks, at most `max_layers`: among the layers whose
/// output a CAM can read (LayerInfo::layout) on more than one position, those at the shallowest module depth (dots in the path) that has at
/// least two of them (cnn: block1..3; ResNets: layer1..4), the last `max_layers` in call order, and
/// `chosen` always among them. The cost stays bounded: one CAM pass per layer on the sample.
std::vector<std::string> candidate_layers(const std::vector<LayerInfo>& layers, const std::string& chosen,
                                          std::size_t max_layers = 4);

/// The CAM methods used when none are named: every registered method except the ones that need a
/// forward pass per channel (scorecam, ablationcam), which are slow, and finercam, which explains
/// the target against other classes, not the target's probability these metrics measure; all
/// can be named explicitly.
std::vector<std::string> default_faithfulness_methods();

/// What `analyze` runs: the gradient methods (default_faithfulness_methods() without EigenCAM),
/// 4 deletion/insertion steps and ROAD at 25/75 % (14 inputs per image and method, of which the
/// clean, the all-mean and the blurred image are shared between the methods). n =
/// min(requested_n, analysed); unless the user chose n explicitly, also at most
/// max(10, analysed / (8 · quick_check_cost)), so the check costs about 1/8 of a forward pass over
/// the analysed images (18 of 10,000 images; 10 of 200). The price is a noisier ranking: see
/// docs/faithfulness.md for how often it agrees with a large evaluation.
EvaluateOptions quick_faithfulness_options(std::size_t requested_n, bool explicit_n, std::size_t analysed);

/// The cost of one image in forward passes: the methods' distinct perturbed inputs plus about two
/// forwards per method for its CAM (forward + backward). 68 for quick_faithfulness_options().
std::size_t quick_check_cost(const EvaluateOptions& o);

/// Checks the names against cam_methods(); UsageError naming the unknown one and the choices.
void check_cam_methods(const std::vector<std::string>& methods);

/// n dataset indices spread evenly: floor(j·size/n) for j = 0 … n-1 (all of them when n = 0 or
/// n >= size). Deterministic, and covers datasets stored sorted by class.
std::vector<std::size_t> spread_indices(std::size_t size, std::size_t n);

/// The whole evaluation. class_names: size = the model's classes. Fills the Summary's provenance
/// (dataset path is the dataset's name; the caller may overwrite it).
faith::Summary evaluate_cams(Model& model, const Dataset& data, const InputSpec& spec,
                             const std::vector<std::string>& class_names, const EvaluateOptions& opt);

}  // namespace camscope

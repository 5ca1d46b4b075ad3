#pragma once
// CAM faithfulness metrics: does the model's score really depend on the pixels a CAM highlights?
// Pure, torch-free math on one image at a time; the model enters only as a scoring callback, so
// every metric is testable with a fake scorer whose answer is known by hand.
//
// Shapes (all row-major float32):
//   x     C×H×W  one image in the model's input space (normalised: (p/255 - mean)/std, so 0 is the
//                dataset's mean colour);
//   cam   H×W    the CAM of the target class, already upsampled to the input size, values in [0,1];
//   batch m×C×H×W perturbed copies of x, scored by the callback, which returns p(target) for each.
// target = the model's predicted class on the clean image x; score = softmax probability of the
// target (not the logit: the metrics below are defined on probabilities).
//
// Definitions (p = score of x; one image; averaged over images by summarize() in summary.hpp):
//   Average Drop (%) = max(0, p - p̃)/p × 100 and Increase in Confidence = [p̃ > p], where p̃ is the
//     score of x ⊙ cam (the CAM multiplied into the *normalised* input, as pytorch-grad-cam's
//     cam_mult_image.py does). Chattopadhay et al. 2018 (Grad-CAM++), eq. 21/22. p = 0 gives drop 0.
//   Deletion / Insertion AUC (Petsiuk et al. 2018, RISE): pixels ranked by CAM, descending, ties
//     by pixel index (row-major), in S steps; after step k the first n_k = round(k·HW/S) ranked
//     pixels are changed in every channel. Deletion sets them to 0 (the mean colour), insertion
//     starts from a blurred copy of x and restores them from x. Scores at fractions 0, 1/S, …, 1;
//     AUC by the trapezoid rule over [0,1]. Lower deletion / higher insertion = more faithful.
//     Blur: separable Gaussian, σ = blur_sigma (default max(H,W)/16, i.e. 2 px at 32×32),
//     kernel radius ceil(3σ), replicated borders. RISE uses klen 11 / σ 5 for 224 px inputs; a
//     fixed 5 px would wipe out a 28–32 px image and 0.7 px (5/224 scaled) barely blurs it.
//   ROAD (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for Attribution
//     Methods"): remove k = round(p/100·HW) pixels and re-impute them with the noisy linear
//     imputer: each removed pixel = the weighted mean of its in-bounds 8 neighbours (weight 1/6
//     edge-adjacent, 1/12 diagonal, normalised by the in-bounds weight sum), solved jointly for all
//     removed pixels of a channel as one sparse SPD system (Jacobi-preconditioned conjugate
//     gradients in double, relative residual 1e-8), then N(0, noise²) added to every imputed
//     value (noise 0.01 in normalised units, seeded: deterministic). MoRF(p) removes the p %
//     highest-ranked pixels, LeRF(p) the p % lowest-ranked. Reported: mean score over the
//     percentiles for MoRF (lower = more faithful), for LeRF (higher = more faithful), and
//     combined = (LeRF - MoRF)/2 (higher = more faithful, pytorch-grad-cam's ROADCombined).
//
// Where we match jacobgil/pytorch-grad-cam (metrics/cam_mult_image.py, road.py,
// perturbation_confidence.py) and where not:
//   - x ⊙ cam in normalised space, IC = [p̃ > p]: same.
//   - Average Drop: the library returns max(0, p - p̃) (no division by p, no ×100); we follow the
//     paper's relative drop in percent.
//   - ROAD imputer: same neighbour weights, same equations (its matrix is our matrix negated), same
//     noise model; it solves with scipy's direct spsolve, we with PCG to a relative residual of 1e-8
//     (the same solution far below the noise; values are stored as float). Its noise is unseeded
//     torch.randn; ours is seeded.
//   - ROAD percentiles: the library's RemoveMostRelevantFirst(p) *keeps* the pixels below the p-th
//     percentile of the CAM (i.e. removes the top 100-p %) using a strict threshold, so ties can
//     remove more or fewer pixels; we remove exactly round(p·HW/100) pixels in rank order. Over the
//     default symmetric set 10…90 the averages cover the same removal fractions.
//   - Scores: the library scores with whatever target the user passes (usually the raw logit) and
//     reports differences to the clean score; we use softmax probabilities and report the scores
//     themselves (the clean score cancels in the combined ROAD value either way).
//   - Deletion/insertion are not in pytorch-grad-cam; we follow RISE (zeros substrate for deletion
//     in normalised space, blurred substrate for insertion, probabilities, trapezoid AUC).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace camscope::faith {

struct Shape {
    int c = 0, h = 0, w = 0;
    std::size_t pixels() const { return static_cast<std::size_t>(h) * w; }
    std::size_t size() const { return static_cast<std::size_t>(c) * h * w; }
};

struct Params {
    bool cam_mult = true;  // Average Drop / Increase in Confidence
    bool deletion = true;
    bool insertion = true;
    bool road = true;
    int steps = 16;         // S for deletion/insertion (>= 1)
    double blur_sigma = 0;  // insertion baseline blur in pixels; 0 = max(H,W)/16
    std::vector<double> road_percentiles{10, 20, 30, 40, 50, 60, 70, 80, 90};  // each in [0,100]
    double road_noise = 0.01;  // std of the imputation noise (normalised units); 0 = none
    std::uint64_t seed = 0;    // base seed of the imputation noise

    /// Throws UsageError naming the bad field (steps < 1, percentile outside [0,100], ...).
    void validate() const;
    /// The blur sigma in effect for an H×W image.
    double sigma_for(int h, int w) const;
    /// Inputs scored per image: 1 (clean) + 1 (x ⊙ cam) + 2·steps + 2·percentiles when all are on.
    std::size_t rows_per_image() const;
};

/// Scores of one image. NaN where a metric is switched off.
struct Scores {
    double p_clean = 0;                       // p(target | x)
    double p_cam_mult = 0;                    // p(target | x ⊙ cam)
    double average_drop = 0;                  // max(0, p - p̃)/p × 100
    double increase = 0;                      // 1 if p̃ > p else 0
    std::vector<double> deletion, insertion;  // S+1 scores at removed/restored fractions k/S
    double deletion_auc = 0, insertion_auc = 0;
    std::vector<double> road_morf, road_lerf;  // one score per percentile
    double road_morf_mean = 0, road_lerf_mean = 0, road_combined = 0;
};

/// The perturbed copies of one image and which row is what. Row 0 is always the clean image.
struct Perturbations {
    Shape shape;
    int rows = 0;
    std::vector<float> inputs;              // rows×C×H×W
    int cam_mult_row = -1;                  // -1: not computed
    std::vector<int> deletion_rows;         // S+1 (k = 0 … S; k = 0 is row 0), empty if off
    std::vector<int> insertion_rows;        // S+1 (k = S is row 0), empty if off
    std::vector<int> morf_rows, lerf_rows;  // one per percentile, empty if off
};

/// Builds every perturbed input of one image (all metrics of `p`). `image_seed` seeds the ROAD
/// noise (the same seed gives the same noise for the same pixels: use one seed per image for all
/// CAM methods, so methods are compared on common random numbers).
/// Throws UsageError on bad shapes or parameters, Error on a non-finite CAM value.
Perturbations perturb(const float* x, const float* cam, Shape shape, const Params& p, std::uint64_t image_seed = 0);

/// The metrics from the scores of every row of `pert` (probs.size() == pert.rows).
Scores score(const Perturbations& pert, const std::vector<float>& probs);

/// Scoring callback: m inputs (m×C×H×W) -> p(target) of each.
using ProbFn = std::function<std::vector<float>(const std::vector<float>& batch, int m)>;

/// perturb + one call of `prob` with every row + score.
Scores evaluate_image(const float* x, const float* cam, Shape shape, const Params& p, const ProbFn& prob,
                      std::uint64_t image_seed = 0);

// ------------------------------------------------------------------ building blocks (tested alone)

/// Pixel indices (0 … n-1) by CAM value, descending; equal values keep index order.
std::vector<int> rank_pixels(const float* cam, std::size_t n);

/// n_k = round(k·n/steps) for k = 0 … steps.
std::vector<std::size_t> step_counts(std::size_t n, int steps);

/// Area under evenly spaced scores over [0,1] by the trapezoid rule (0 for fewer than 2 points).
double trapezoid_auc(const std::vector<double>& curve);

/// Separable Gaussian blur of each channel of x (C×H×W), radius ceil(3σ), replicated borders.
/// σ <= 0 returns a copy.
std::vector<float> gaussian_blur(const float* x, Shape shape, double sigma);

/// A square sparse matrix in compressed-row form.
struct SparseMatrix {
    int n = 0;
    std::vector<int> row_ptr;  // n+1
    std::vector<int> col;
    std::vector<double> val;
    std::vector<double> multiply(const std::vector<double>& v) const;
    double at(int r, int c) const;
};

struct CgResult {
    int iterations = 0;
    double relative_residual = 0;  // |b - A x| / |b| at the end (0 when b = 0)
    bool converged = false;
};

/// Solves A x = b for symmetric positive definite A by conjugate gradients with a Jacobi
/// (diagonal) preconditioner, starting from x's contents (resized to n, zeros if it was empty).
CgResult cg_solve(const SparseMatrix& a, const std::vector<double>& b, std::vector<double>& x, double rel_tol = 1e-10,
                  int max_iter = 0 /* 0 = 10·n + 100 */);

/// ROAD's noisy linear imputer, in place on x (C×H×W): every pixel with removed[i] != 0 (H×W mask)
/// gets the neighbour-weighted mean described at the top of this file, plus N(0, noise²) per
/// channel value drawn from `seed`. If every pixel is removed there is nothing to impute from:
/// the pixels become 0 (the mean colour) plus noise. Throws UsageError on a mask of the wrong size.
void impute_noisy_linear(float* x, Shape shape, const std::vector<std::uint8_t>& removed, double noise,
                         std::uint64_t seed);

/// Standard-normal numbers from a seed (splitmix64 + Box–Muller): the same on every platform,
/// unlike std::normal_distribution.
std::vector<double> normal_noise(std::size_t n, std::uint64_t seed);

/// Mixes two values into a new seed (splitmix64 finaliser).
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b);

}  // namespace camscope::faith

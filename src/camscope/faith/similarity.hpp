#pragma once
// How alike two saliency maps are, for the sanity gate (faith/sanity.hpp; Adebayo et al. 2018,
// "Sanity Checks for Saliency Maps", NeurIPS: Spearman rank correlation and SSIM between the
// original map and the map after randomisation). Torch-free; maps are row-major h×w floats.
#include <cstddef>

namespace camscope::faith {

/// Spearman rank correlation of a[0..n) and b[0..n): the Pearson correlation of their ranks, tied
/// values sharing their average rank (scipy.stats.spearmanr). A constant input has no ranking: the
/// result is then 1 when both are constant (two blank maps agree) and 0 when only one is (a map
/// that turned blank shares no ordering with one that did not); NaN for n < 2. Adebayo et al.
/// also report the correlation of absolute values; CAMs after their ReLU are >= 0, so it is the same.
double spearman(const float* a, const float* b, std::size_t n);

/// Mean structural similarity (Wang et al. 2004, IEEE TIP 13(4), eq. 13) of two h×w maps with
/// values in [0, 1] (data range L = 1, K1 = 0.01, K2 = 0.03): SSIM computed in every window of
/// win×win pixels that lies wholly inside the map (uniform weights, sample variances and covariance,
/// i.e. divided by win² − 1), then averaged. This is scikit-image's structural_similarity with
/// win_size 7, gaussian_weights False, use_sample_covariance True, data_range 1 (what Adebayo et
/// al. used), whose mean leaves out the border where its filter reflects. win = 7, or the largest
/// odd size <= min(h, w) for smaller maps. NaN for an empty map.
double ssim(const float* a, const float* b, int h, int w);

}  // namespace camscope::faith

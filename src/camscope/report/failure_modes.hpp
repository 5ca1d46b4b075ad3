#pragma once
// Failure modes: the errors of a class (or of a confused pair) grouped by where the model looks.
//
//   errors of a group ──► one feature per error: the true-class CAM, the predicted-class CAM and
//   (class / top pair)     their difference, each pooled to at most 8×8 and scaled to unit norm
//        │                 (penultimate features are not recorded by the pass: not used)
//        ▼
//   k-means (faiss, k = 2..max_k, fixed seed, one thread) ──► k by the mean silhouette; k = 1 when
//        │                                                     no split reaches min_silhouette
//        ▼
//   FailureMode per cluster: size, share, mean confidence, centre share, evidence area, where the
//   evidence sits, the classes it goes to, its most typical members (nearest to the centroid) and a
//   one-line description built from those measured figures only.
//
// Torch-free. Computed by build_report (stage "failure modes", analysis.cpp); written by
// write_failure_modes.cpp (failure_modes/ sheets, summary.json, index.html, the text summary).
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace camscope {

struct AnalysisInput;
struct Report;
struct AnalysisParams;

/// One group of errors whose CAMs look alike.
struct FailureMode {
    int id = 0;                    // index in FailureModes::modes
    int group = 0;                 // index in FailureModes::groups
    int cluster = 0;               // 0..k-1 within the group, by size (desc)
    std::vector<size_t> rows;      // members, row order
    std::vector<size_t> typical;   // most typical members first (nearest to the centroid), at most gallery
    double share = 0;              // of the group's errors
    double mean_confidence = 0;    // p(pred), mean over members
    /// Mean centre share of the predicted-class CAM (Report::centre_share) over the members where it
    /// is defined (centre_n of them); NaN where none.
    double centre_share = 0;
    long long centre_n = 0;
    /// Mean evidence area of the predicted-class CAM: the share of the map (at the layer's
    /// resolution) at or above half its maximum; non-degenerate maps only (NaN where none).
    double evidence_area = 0;
    /// Where the evidence sits: the centre of mass of the evidence region (at or above half the
    /// maximum) of the members' mean predicted-class CAM, in [0, 1] (y down, x right), and its place
    /// in a 3×3 split of the image: "top-left corner", "top edge", ..., "centre".
    double com_y = 0.5, com_x = 0.5;
    std::string location;
    std::vector<std::pair<int, long long>> goes_to;  // predicted classes, count (desc), then class
    std::string description;       // one line from the figures above
    std::string file;              // "failure_modes/<group stem>.png" (the group's sheet)
};

/// The errors of one class (kind "class": a = the true class, b = -1) or of one directed pair
/// (kind "pair": a -> b), and how they split.
struct FailureGroup {
    std::string kind;
    int a = 0, b = -1;
    long long errors = 0;
    int k = 1;                     // modes chosen
    /// Mean silhouette of the best split with k >= 2 (NaN: fewer than 3 errors or no split made);
    /// k > 1 only when it reaches FailureModes::min_silhouette.
    double best_silhouette = 0;
    int best_k = 0;                // that split's k (0: none)
    std::vector<int> modes;        // ids, cluster order
    /// The reference: the class a's correct predictions (their predicted-class CAMs): mean centre
    /// share (FocusStats::centre_correct) and mean evidence area; NaN where none.
    double reference_centre = 0, reference_area = 0;
    std::string file;              // "failure_modes/<stem>.png"
};

struct FailureModes {
    // What they were computed with (AnalysisParams::failure_*).
    int min_errors = 0, max_k = 0, top_pairs = 0, gallery = 0;
    double min_silhouette = 0;
    int grid_h = 0, grid_w = 0;    // the pooled CAM grid of the features
    long long max_points = 0;      // silhouette on at most this many errors of a group (even sample)
    std::vector<FailureGroup> groups;   // classes (by errors, desc), then pairs (Report::directed order)
    std::vector<FailureMode> modes;
    /// Per row (n): the id of its class group's mode, -1 for correct rows and errors of classes
    /// with fewer than min_errors errors.
    std::vector<int> mode_of_row;
    double seconds = 0;            // the stage's wall-clock time
};

/// The stage: groups, modes and mode_of_row from the input's CAMs and the report's rows, centre
/// shares and per-class focus (build_report's earlier stages). Deterministic for any core count.
FailureModes failure_modes(const Report& r, const AnalysisInput& in, const AnalysisParams& opt);

/// "top-left corner", "top edge", ..., "centre": a point in [0, 1]² in a 3×3 split of the image.
std::string image_region(double y, double x);

/// The criterion as the report states it.
std::string failure_modes_criterion(const FailureModes& f);

}  // namespace camscope

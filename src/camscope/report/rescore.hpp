#pragma once
// Re-scoring with reviewed labels (`camscope rescore`, camscope.rescore): the explorer's tags
// (serve/tags.hpp) applied to an analysis' per-image predictions (its store). Torch-free.
//
// A row tagged "relabel:<k>" takes label k (the label the reviewer chose); a row tagged "relabel"
// without a chosen label is counted as flagged and left as it is; every other tag is ignored
// except "ok" (the review found the label right). From the corrected labels: top-1 accuracy, the
// per-class table (metrics::per_class_stats) and the confusion matrix, beside the originals; the
// images whose label changed; how many of the report's likely label errors (confident learning,
// metrics::find_label_issues on the store's probabilities: the report's own list) the review
// relabelled, relabelled to the suggested class, flagged without a label, or marked "ok".
// With a second analysis of the same images (A/B): each model's accuracy before and after, and
// whether their ranking changes (Northcutt, Athalye & Mueller, "Pervasive Label Errors in Test Sets
// Destabilize Machine Learning Benchmarks", NeurIPS 2021 Datasets and Benchmarks).
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "camscope/report/identity.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/report/store.hpp"
#include "camscope/serve/tags.hpp"

namespace camscope {

/// One model's numbers under the given and the reviewed labels.
struct RescoredModel {
    std::string path;  // its store
    RunIdentity identity;
    std::vector<int> preds;        // n: argmax of the softmax
    std::vector<float> confidence;  // n: softmax probability of the prediction
    long long correct_before = 0, correct_after = 0;
    double accuracy_before = 0, accuracy_after = 0;  // top-1 (0 without images)
    metrics::ConfusionMatrix confusion_before, confusion_after;  // true rows
    std::vector<metrics::ClassStats> per_class_before, per_class_after;  // by class index
};

/// An image whose label the review changed.
struct ChangedImage {
    std::size_t row = 0;
    int index = 0;  // dataset index
    int label_before = 0, label_after = 0;
    int pred_a = 0, pred_b = -1;  // -1 without a second analysis
    bool likely_error = false;  // among the report's likely label errors
    int suggested = -1;         // its suggested class there (-1 if not one)
};

/// The report's likely label errors against the review.
struct LabelErrorReview {
    long long likely = 0;                // the report's list
    long long confirmed = 0;             // relabelled (a chosen label other than the given one)
    long long confirmed_as_suggested = 0;  // ... to the class confident learning suggested
    long long flagged_no_label = 0;      // tagged "relabel" without a chosen label (not applied)
    long long marked_ok = 0;             // tagged "ok" (and not relabelled)
    long long kept_label = 0;            // a chosen label equal to the given one
    long long unreviewed = 0;            // none of these
    long long relabelled_elsewhere = 0;  // relabelled images that were not on the list
};

struct Rescore {
    std::vector<std::string> class_names;
    std::size_t n = 0;
    std::vector<int> labels_before, labels_after;  // n
    RescoredModel a;
    std::optional<RescoredModel> b;
    std::size_t tagged = 0;                // rows with any tag
    std::vector<ChangedImage> changed;     // by row
    std::vector<std::size_t> flagged_no_label;  // rows tagged "relabel" without a chosen label (not applied)
    std::vector<std::size_t> kept_label;   // rows whose chosen label is the given one (no change)
    std::size_t marked_ok = 0;             // rows tagged "ok"
    LabelErrorReview review;
    /// A/B (with b): +1 A ranks first, -1 B ranks first, 0 a tie, by top-1 accuracy.
    int ranking_before = 0, ranking_after = 0;
    bool ranking_changes() const { return ranking_before != ranking_after; }
};

/// The tags applied to a complete analysis `a` (and a second one `b` of the same images: dataset
/// fingerprint, images analysed, class names and every label checked, as compare_stores does).
/// Tags name a's rows; a chosen label must be a class of a. Throws Error naming the store (a shard:
/// merge first) or the difference.
Rescore rescore(const Store& a, const serve::TagMap& tags, const Store* b = nullptr);

/// read_store for rescore: `dir` is a report folder holding store/ or a store; a report without
/// its store, or a shard, is refused with what is missing and how to get it.
Store read_rescore_store(const std::string& dir);

/// The folder rescore writes to by default: <report>/rescored (a bare store: "", --out needed).
std::string default_rescore_out(const std::string& report);

/// rescored_summary.json (every figure above, the changed rows as in changed_images.csv).
std::string rescored_summary_json(const Rescore& r, const std::string& tags_path);
/// per_class_rescored.csv: model A's per_class.csv columns under the reviewed labels, then the
/// support and accuracy under the given labels.
std::string per_class_rescored_csv(const Rescore& r);
/// confusion_matrix_rescored.csv: as confusion_matrix.csv (true rows), under the reviewed labels.
std::string confusion_rescored_csv(const Rescore& r);
/// changed_images.csv: row, index, the label before and after (index and name), each model's
/// prediction, whether it was a likely label error and its suggested class.
std::string changed_images_csv(const Rescore& r);
/// The terminal summary (a few lines).
std::string rescore_text(const Rescore& r, const std::string& out_dir);

/// Writes the four files into `out_dir` as a whole (StagedDir: built beside it, swapped in). An
/// existing non-empty folder that is not a rescoring (no rescored_summary.json) is refused.
void write_rescore(const Rescore& r, const std::string& tags_path, const std::string& out_dir);

/// What `camscope rescore` and camscope.rescore ask for.
struct RescoreRequest {
    std::string report;     // a report folder holding store/, or a store
    std::string tags_path;  // the tags file (named in messages and in rescored_summary.json)
    std::string tags_text;  // the tags as text instead of reading tags_path ("": read the file)
    std::string other;      // a second analysis of the same images ("": none)
    std::string out;        // "": default_rescore_out(report) (UsageError for a bare store)
};
/// The whole command: reads the analyses (read_rescore_store) and the tags (checked against A's
/// rows and classes), applies them, writes the folder (write_rescore). Returns the result and the
/// folder written.
std::pair<Rescore, std::string> rescore_and_write(const RescoreRequest& q);

}  // namespace camscope

#pragma once
// The flip test's results (issue 25, part 2): "remove the evidence, see what the model says".
// For a sample of the errors, the top k % of the pixels of the predicted class's CAM (at the input
// size) are removed and re-imputed with ROAD's noisy linear imputer (faith/faithfulness.hpp,
// impute_noisy_linear: the same imputation as the faithfulness check's ROAD), and the model is run
// again (pipeline/flip.hpp runs it). Each tested error gets an outcome:
//   flips_to_true    the prediction becomes the true class: "distractor evidence" (what it looked
//                    at drew it away from the true class, which it does see);
//   stays            still the same wrong class: "missing true evidence" (without its evidence
//                    the model still cannot find the true class);
//   flips_elsewhere  a third class: "unstable".
// Plain data and counting, torch-free; the formats are in write_flips.cpp (write_flips.hpp).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "camscope/image/image.hpp"

namespace camscope {

struct Report;
struct AnalysisParams;

enum class FlipOutcome { stays, flips_to_true, flips_elsewhere };
/// "stays", "flips_to_true", "flips_elsewhere".
const char* flip_outcome_name(FlipOutcome o);
/// The error's kind: "missing" (stays), "distractor" (flips_to_true), "unstable" (flips_elsewhere).
const char* flip_kind(FlipOutcome o);
/// "missing true evidence", "distractor evidence", "unstable".
const char* flip_kind_label(FlipOutcome o);

/// One tested error.
struct FlipRow {
    std::size_t row = 0;  // report row (Report::rows)
    int index = 0;        // dataset index
    int label = 0, pred = 0;
    float confidence = 0;  // p(pred) on the clean image (the pass)
    int after = 0;         // the prediction with the evidence removed
    float p_after = 0;     // p(after) there
    float p_pred_after = 0, p_true_after = 0;  // p(pred), p(label) there
    FlipOutcome outcome = FlipOutcome::stays;
};

struct FlipCounts {
    long long tested = 0, distractor = 0, missing = 0, unstable = 0;
    void add(FlipOutcome o);
    long long of(FlipOutcome o) const;
    double share(FlipOutcome o) const;  // of tested (0 when none)
};

/// Counts of one true class (b = -1), one directed pair a -> b, or one failure mode (mode >= 0,
/// a = its class; report/failure_modes.hpp).
struct FlipGroup {
    int a = 0, b = -1;
    int mode = -1;
    FlipCounts counts;
};

/// A gallery sheet of flip_test/: its rows are indices into FlipSummary::rows.
struct FlipSheet {
    std::string file;   // "flip_test/distractor.png", "flip_test/pair_<a>_<b>.png"
    std::string title;
    std::vector<std::size_t> rows;
};

struct FlipSummary {
    double fraction = 0.2;   // k: the share of the input's pixels removed (the CAM's top, by rank)
    double noise = 0.01;     // std of the imputation noise (normalised input units)
    std::uint64_t seed = 0;  // base seed; image i uses mix_seed(seed, dataset index)
    std::size_t errors = 0;      // errors in the report
    std::size_t blank = 0;       // errors left out: predicted-class CAM without positive evidence
    std::size_t eligible = 0;    // errors - blank
    std::string selection;       // how the tested errors were chosen, in words
    std::vector<FlipRow> rows;   // the tested errors, in report-row order
    FlipCounts overall;
    std::vector<FlipGroup> per_class;  // by true class, classes with tested errors, class order
    std::vector<FlipGroup> per_pair;   // directed pairs with tested errors: most tested first, then (a, b)
    std::vector<FlipGroup> per_mode;   // failure modes with tested errors: most tested first, then mode id
    std::vector<FlipSheet> sheets;     // one per kind that occurs, then the top pairs
    /// The model's input with the evidence removed, as 8-bit pixels at the input size (the input's
    /// normalisation undone), for the rows of the sheets; by report row.
    std::map<std::size_t, Image> removed_images;
    std::size_t forwards = 0;  // images run through the model
    double seconds = 0;

    /// "the top 20% of the predicted class's CAM removed and re-imputed by ROAD's noisy linear
    /// imputation (noise 0.01)": k and the imputation, in words.
    std::string method() const;
};

/// Fills s.overall, per_class, per_pair, per_mode and the sheets' choice from s.rows: a sheet per
/// kind that occurs (its most confident errors first, at most `sheet_rows`), then one per directed
/// pair among the `pair_sheets` most tested pairs with at least 2 tested errors (at most `sheet_rows`
/// each), then likewise one per failure mode among the `pair_sheets` most tested modes.
/// `mode_of_row` (FailureModes::mode_of_row, by report row; empty = no failure modes) gives per_mode.
void summarize_flips(FlipSummary& s, const std::vector<std::string>& class_names, std::size_t sheet_rows = 8,
                     std::size_t pair_sheets = 3, const std::vector<int>& mode_of_row = {});

/// One sentence: k, the imputation, how many errors were tested and the three counts with shares.
std::string flips_headline(const FlipSummary& s);

/// Sets r.flips and runs the recommendations again (rules::flip_test reads it), with the
/// parameters build_report recorded (Report::params).
void attach_flips(Report& r, FlipSummary s);

}  // namespace camscope

#pragma once
// Torch-free figures drawn with Cairo (text in DejaVu Sans): each function takes plain data and
// returns PNG bytes (write them with write_file_atomic). Figures format, they never compute
// metrics. Text stays legible at 100 classes: the canvas grows with the number of labels.
// One file per figure kind (matrix.cpp, bars.cpp, reliability.cpp, grid.cpp), all drawn with the
// primitives of canvas.hpp (private to render/).
#include <cstdint>
#include <string>
#include <vector>

#include "camscope/image/image.hpp"

namespace camscope::plot {

using Png = std::vector<std::uint8_t>;

/// A K_rows×K_cols heatmap (e.g. a confusion matrix) with row/column labels, colour bar,
/// optional group outlines (superclass blocks) and optional cell annotations for small K.
struct MatrixPlot {
    std::string title;
    std::string xlabel = "Predicted";
    std::string ylabel = "True";
    std::string colorbar_label;
    int rows = 0, cols = 0;
    std::vector<float> values;             // rows×cols, row-major
    std::vector<std::string> row_labels;   // size rows
    std::vector<std::string> col_labels;   // size cols
    /// Square blocks [begin, end) on the diagonal to outline (groups in the ordering used).
    std::vector<std::pair<int, int>> blocks;
    bool annotate = false;                 // print values in cells (only sensible for K <= 20)
    std::string value_format = "%.0f";     // printf format for annotations and colour-bar ticks
    float vmin = 0.f, vmax = -1.f;         // vmax < vmin: use the data's max
};
Png render_matrix(const MatrixPlot& p);

/// Horizontal bar chart (e.g. the top confused pairs), bars top to bottom in the given order.
struct BarPlot {
    std::string title;
    std::string xlabel;
    std::vector<std::string> labels;
    std::vector<float> values;
    std::vector<std::string> value_text;   // optional text at the end of each bar
};
Png render_barh(const BarPlot& p);

/// Small multiples of horizontal bar charts sharing their bar labels (e.g. one panel per metric,
/// one bar per method), stacked top to bottom, each panel on its own scale from 0.
struct PanelBarPlot {
    std::string title;
    std::vector<std::string> labels;             // bars of every panel, top to bottom
    std::vector<std::string> panel_titles;       // one per panel
    std::vector<std::vector<float>> values;      // [panel][bar]; NaN = no bar
    std::vector<std::vector<int>> highlight;     // per panel: bars drawn in the accent colour
    std::string value_format = "%.3f";           // printf format of the value after each bar
    std::string footer;                          // optional note under the panels
};
Png render_barh_panels(const PanelBarPlot& p);

/// Reliability diagram: per-bin accuracy vs confidence against the diagonal, gaps shaded,
/// with a histogram of bin counts underneath.
struct ReliabilityPlot {
    std::string title;
    std::vector<float> bin_lower, bin_upper;  // size B
    std::vector<float> bin_confidence;        // mean confidence per bin (NaN/ignored if count 0)
    std::vector<float> bin_accuracy;
    std::vector<long long> bin_count;
    std::string annotation;                   // e.g. "ECE 4.21%  MCE 12.0%"
};
Png render_reliability(const ReliabilityPlot& p);

/// A grid of images with captions (galleries of predictions, CAM overlays, dual views).
struct Tile {
    Image image;                        // any size; scaled to the cell (nearest for small images)
    std::vector<std::string> caption;   // lines under the image
    std::uint32_t caption_rgb = 0x000000;  // e.g. 0xC00000 for errors, 0x007000 for correct
    /// Non-empty: the cell is marked as not showing what its column promises (e.g. "no positive
    /// evidence" for a blank CAM): a kStampRgb frame around the image and this text on a dark band
    /// across its middle.
    std::string stamp;
};
/// The frame colour of a stamped tile (magenta: in neither the JET nor the diverging colour map).
constexpr std::uint32_t kStampRgb = 0xC000C0;
struct GridPlot {
    std::string title;
    std::vector<std::string> col_headers;  // optional, size = columns
    std::vector<std::string> row_headers;  // optional, size = rows (drawn at the left)
    std::vector<std::vector<Tile>> rows;   // rows of tiles; rows may be shorter (blank cells)
    int cell = 160;                        // image cell size in pixels
    std::string footer;                    // optional note under the grid (e.g. colour legend)
};
Png render_grid(const GridPlot& p);

}  // namespace camscope::plot

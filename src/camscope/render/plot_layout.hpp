#pragma once
// Private to render/ and its tests: where render_matrix puts things, so a test can sample the
// pixel in the middle of a cell without re-deriving the layout. Not part of the public API.
#include "camscope/render/plot.hpp"

namespace camscope::plot::detail {

struct MatrixLayout {
    int width = 0, height = 0;         // canvas size in pixels
    double x0 = 0, y0 = 0;             // top-left corner of cell (0, 0)
    double cell = 0;                   // cell side in pixels (cells are square)
    double label_px = 0;               // font size of row/column labels (0: labels not drawn)
    double annot_px = 0;               // font size of annotations (0: no annotations)
    double cbar_x = 0, cbar_y = 0, cbar_w = 0, cbar_h = 0;  // colour-bar rectangle
    double vmin = 0, vmax = 1;         // colour scale actually used (vmax > vmin)
};

/// Largest side of a matrix figure's cells in pixels (beyond ~2,800 classes: 1 px per class).
inline constexpr double kMaxMatrixPx = 2800;

/// The layout render_matrix draws with. Throws UsageError on inconsistent input (sizes, format).
MatrixLayout matrix_layout(const MatrixPlot& p);

/// Colour of the matrix colour map ("Blues", ColorBrewer 9-class) at t in [0, 1], RGB 0..255.
void matrix_colormap(double t, unsigned char rgb[3]);

/// Size of the "no data" figure drawn for empty inputs.
inline constexpr int kNoDataWidth = 480;
inline constexpr int kNoDataHeight = 200;

}  // namespace camscope::plot::detail

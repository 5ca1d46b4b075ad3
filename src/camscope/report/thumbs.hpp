#pragma once
// Thumbnail sprite sheets of every analysed image (the explorer's grid): one layout, drawn by
// `analyze` into <report>/explorer/img/thumbs-<k>.png and by `serve` on request (api/thumbs/<k>.png).
//
// Layout: every thumbnail is a tile of tile_h×tile_w pixels, the model input size scaled to at
// most kThumbMax on the long side (never enlarged); an image is shrunk by area averaging to fit
// its tile with its aspect kept, centred on a grey background (an image that cannot be loaded
// leaves its tile grey). Row r lies in sheet r / per_sheet at tile t = r % per_sheet:
// x = (t % cols)·tile_w, y = (t / cols)·tile_h. A sheet holds at most kThumbGrid × kThumbGrid
// tiles (1,024: 1,024×1,024 px for 32×32 tiles, 1,536×1,536 px for 48×48); the last sheet is as
// tall as its rows need. Torch-free.
#include <cstddef>
#include <cstdint>
#include <vector>
#include <functional>
#include <string>

#include "camscope/image/image.hpp"

namespace camscope {

constexpr int kThumbMax = 48;
constexpr int kThumbGrid = 32;
constexpr std::uint8_t kThumbBackground = 128;

struct ThumbLayout {
    int tile_h = 0, tile_w = 0;
    int cols = kThumbGrid;
    size_t per_sheet = size_t(kThumbGrid) * kThumbGrid;
    size_t n = 0;  // rows
    size_t sheets() const { return n == 0 ? 0 : (n + per_sheet - 1) / per_sheet; }
    /// Rows in sheet k (the last sheet may hold fewer).
    size_t rows_in(size_t k) const { return k + 1 < sheets() ? per_sheet : n - k * per_sheet; }
};

/// The layout for n images shown to the model at input_h×input_w (0×0: square tiles).
ThumbLayout thumb_layout(size_t n, int input_h, int input_w);

/// The tile of one image: shrunk to fit tile_h×tile_w (aspect kept, centred; never enlarged
/// beyond the tile), RGB. An empty image gives a grey tile.
Image thumb_tile(const Image& img, int tile_h, int tile_w);

/// Sheet k (RGB): the tiles of rows [k·per_sheet, ...), drawn on `threads` threads (0 = every
/// core); the pixels are the same for any count. `load(row)` returns the row's image (empty: grey).
/// Throws Error if k is not a sheet of the layout.
Image thumb_sheet(const ThumbLayout& l, size_t k, const std::function<Image(size_t row)>& load, int threads = 0);

}  // namespace camscope

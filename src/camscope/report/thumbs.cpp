// Thumbnail sprite sheets (thumbs.hpp).
#include "camscope/report/thumbs.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "camscope/util/error.hpp"
#include "camscope/util/parallel.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

ThumbLayout thumb_layout(size_t n, int input_h, int input_w) {
    ThumbLayout l;
    l.n = n;
    if (input_h <= 0 || input_w <= 0) input_h = input_w = 32;
    const int longest = std::max(input_h, input_w);
    if (longest <= kThumbMax) {
        l.tile_h = input_h;
        l.tile_w = input_w;
    } else {
        l.tile_h = std::max(1, static_cast<int>(std::lround(double(input_h) * kThumbMax / longest)));
        l.tile_w = std::max(1, static_cast<int>(std::lround(double(input_w) * kThumbMax / longest)));
    }
    return l;
}

Image thumb_tile(const Image& img, int tile_h, int tile_w) {
    Image out{tile_w, tile_h, 3, std::vector<std::uint8_t>(size_t(tile_w) * tile_h * 3, kThumbBackground)};
    if (img.empty() || img.width <= 0 || img.height <= 0) return out;
    const double s = std::min({1.0, double(tile_w) / img.width, double(tile_h) / img.height});
    const int w = std::clamp(static_cast<int>(std::lround(img.width * s)), 1, std::min(tile_w, img.width));
    const int h = std::clamp(static_cast<int>(std::lround(img.height * s)), 1, std::min(tile_h, img.height));
    Image small = (w == img.width && h == img.height) ? img : resize_area(img, w, h);
    if (small.channels != 3) small = convert_channels(small, 3);
    const int x0 = (tile_w - w) / 2, y0 = (tile_h - h) / 2;
    for (int y = 0; y < h; ++y)
        std::copy_n(small.pixels.begin() + static_cast<long>(size_t(y) * w * 3), size_t(w) * 3,
                    out.pixels.begin() + static_cast<long>((size_t(y0 + y) * tile_w + x0) * 3));
    return out;
}

Image thumb_sheet(const ThumbLayout& l, size_t k, const std::function<Image(size_t row)>& load, int threads) {
    if (k >= l.sheets()) throw Error(format("thumbnail sheet %zu: the layout has %zu sheets", k, l.sheets()));
    const size_t count = l.rows_in(k);
    const int cols = static_cast<int>(std::min<size_t>(size_t(l.cols), count));
    const int grid_rows = static_cast<int>((count + size_t(l.cols) - 1) / size_t(l.cols));
    Image sheet{cols * l.tile_w, grid_rows * l.tile_h, 3,
                std::vector<std::uint8_t>(size_t(cols) * l.tile_w * size_t(grid_rows) * l.tile_h * 3, kThumbBackground)};
    const size_t first = k * l.per_sheet;
    parallel_for(count, worker_threads(threads), [&](size_t t) {
        const Image tile = thumb_tile(load ? load(first + t) : Image{}, l.tile_h, l.tile_w);
        const size_t x0 = (t % size_t(l.cols)) * size_t(l.tile_w), y0 = (t / size_t(l.cols)) * size_t(l.tile_h);
        for (int y = 0; y < l.tile_h; ++y)  // each tile writes its own pixels only
            std::copy_n(tile.pixels.begin() + static_cast<long>(size_t(y) * l.tile_w * 3), size_t(l.tile_w) * 3,
                        sheet.pixels.begin() + static_cast<long>(((y0 + size_t(y)) * size_t(sheet.width) + x0) * 3));
    });
    return sheet;
}

}  // namespace camscope

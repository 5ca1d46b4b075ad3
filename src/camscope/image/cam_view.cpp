// A CAM as a person sees it (cam_view.hpp): the one home of "a blank map is never drawn as evidence".
#include "camscope/image/cam_view.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "camscope/util/error.hpp"

namespace camscope {

namespace {

/// The picture's size: the image's, or the map's without an image.
std::pair<int, int> shown_size(const Image& img, int h, int w) {
    if (h <= 0 || w <= 0)
        throw UsageError("view_cam: map size must be positive, got " + std::to_string(h) + "x" + std::to_string(w));
    return img.empty() ? std::pair{h, w} : std::pair{img.height, img.width};
}

/// `map` (h×w) at oh×ow: itself when the sizes agree, else resize_map.
const float* at_size(const float* map, int h, int w, int oh, int ow, std::vector<float>& storage) {
    if (oh == h && ow == w) return map;
    storage = resize_map(map, h, w, oh, ow);
    return storage.data();
}

}  // namespace

bool degenerate_cam(const float* map, std::size_t size) {
    bool positive = false, varies = false;
    for (std::size_t i = 0; i < size && !(positive && varies); ++i) {
        positive |= map[i] > 0;
        varies |= map[i] != map[0];
    }
    return !(positive && varies);
}

CamView view_cam(const Image& img, const float* map, int h, int w, CamLayer layer) {
    const auto [oh, ow] = shown_size(img, h, w);
    CamView v;
    v.blank = degenerate_cam(map, static_cast<std::size_t>(h) * w);
    if (v.blank) {
        v.image = no_evidence_image(img, oh, ow);
        return v;
    }
    std::vector<float> storage;
    const float* m = at_size(map, h, w, oh, ow, storage);
    v.image = img.empty() || layer == CamLayer::Heat ? colorize(m, oh, ow) : overlay_cam(img, m);
    return v;
}

CamView view_cam_difference(const Image& img, const float* diff, int h, int w, bool blank) {
    const auto [oh, ow] = shown_size(img, h, w);
    CamView v;
    v.blank = blank;
    if (blank) {
        v.image = no_evidence_image(img, oh, ow);
        return v;
    }
    std::vector<float> storage;
    const float* d = at_size(diff, h, w, oh, ow, storage);
    v.image = Image{ow, oh, 3, std::vector<std::uint8_t>(static_cast<std::size_t>(ow) * oh * 3)};
    for (std::size_t i = 0, n = static_cast<std::size_t>(ow) * oh; i < n; ++i)
        diverging_rgb(std::clamp(d[i], -1.f, 1.f), &v.image.pixels[3 * i]);
    return v;
}

}  // namespace camscope

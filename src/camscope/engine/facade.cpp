// Torch-free parts of the engine facade.
#include "camscope/engine/engine.hpp"
#include "camscope/image/image.hpp"

namespace camscope {

std::vector<float> upsample_cams(const float* maps, int count, int fh, int fw, int out_h, int out_w) {
    std::vector<float> out(static_cast<size_t>(count) * out_h * out_w);
    for (int i = 0; i < count; ++i) {
        auto up = resize_map(maps + static_cast<size_t>(i) * fh * fw, fh, fw, out_h, out_w);
        std::copy(up.begin(), up.end(), out.begin() + static_cast<size_t>(i) * out_h * out_w);
    }
    return out;
}

std::vector<float> cams_at_input_size(const float* maps, int count, int fh, int fw, int out_h, int out_w) {
    std::vector<float> out(static_cast<size_t>(count) * out_h * out_w);
    for (int i = 0; i < count; ++i) {
        auto up = cam_to_input_size(maps + static_cast<size_t>(i) * fh * fw, fh, fw, out_h, out_w);
        std::copy(up.begin(), up.end(), out.begin() + static_cast<size_t>(i) * out_h * out_w);
    }
    return out;
}

}  // namespace camscope

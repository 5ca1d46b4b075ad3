// Pixel operations on Image (resizing, channel conversion) and on CAM maps (resizing, scaling,
// colouring, overlays). Reading and writing image files: image_codec.cpp.
#include "camscope/image/image.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>

#include "camscope/util/error.hpp"

namespace camscope {

void check_image(const Image& img, const char* fn) {
    if (img.channels != 1 && img.channels != 3)
        throw Error(std::string(fn) + ": image has " + std::to_string(img.channels) + " channels (expected 1 or 3)");
    if (img.width <= 0 || img.height <= 0 ||
        img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
        throw Error(std::string(fn) + ": image " + std::to_string(img.width) + "x" + std::to_string(img.height) + "x" +
                    std::to_string(img.channels) + " holds " + std::to_string(img.pixels.size()) + " bytes");
}

namespace {

struct Tap {
    int i0, i1;
    float w0, w1;
};

std::vector<Tap> make_taps(int in, int out) {
    std::vector<Tap> taps(static_cast<size_t>(out));
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    for (int d = 0; d < out; ++d) {
        float src = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int i0 = std::min(static_cast<int>(src), in - 1);
        int i1 = std::min(i0 + 1, in - 1);
        float l1 = src - static_cast<float>(i0);
        taps[d] = {i0, i1, 1.0f - l1, l1};
    }
    return taps;
}

std::uint8_t round_u8(float v) {
    if (!(v > 0)) return 0;
    if (v >= 255) return 255;
    return static_cast<std::uint8_t>(v + 0.5f);
}

// One 8-bit colormap entry: round-half-up of 255·clamp(1.5 - |4x - k|, 0, 1) with x = index/255,
// computed in integers. 255·(1.5 - |4i/255 - k|) = (765 - 2|4i - 255k|)/2 is always a half
// integer, so floating point would make the rounding direction depend on representation error.
std::uint8_t jet_channel(int index, int k) {
    int twice = 765 - 2 * std::abs(4 * index - 255 * k);
    twice = std::clamp(twice, 0, 510);
    return static_cast<std::uint8_t>((twice + 1) / 2);
}

void jet_index_rgb(int index, std::uint8_t rgb[3]) {
    rgb[0] = jet_channel(index, 3);
    rgb[1] = jet_channel(index, 2);
    rgb[2] = jet_channel(index, 1);
}

// numpy's np.uint8(255 * v) for v in [0,1] (truncation); NaN and negatives map to 0.
int unit_to_index(float v) {
    if (!(v > 0)) return 0;
    if (v >= 1) return 255;
    return static_cast<int>(255.0f * v);
}

}  // namespace

Image resize_bilinear(const Image& img, int width, int height) {
    check_image(img, "resize_bilinear");
    if (width <= 0 || height <= 0)
        throw Error("resize_bilinear: target size " + std::to_string(width) + "x" + std::to_string(height) +
                    " must be positive");
    const auto tx = make_taps(img.width, width);
    const auto ty = make_taps(img.height, height);
    const int c = img.channels;
    Image out{width, height, c, std::vector<std::uint8_t>(static_cast<size_t>(width) * height * c)};
    for (int y = 0; y < height; ++y) {
        const Tap& a = ty[y];
        for (int x = 0; x < width; ++x) {
            const Tap& b = tx[x];
            for (int k = 0; k < c; ++k) {
                float top = b.w0 * img.at(a.i0, b.i0, k) + b.w1 * img.at(a.i0, b.i1, k);
                float bot = b.w0 * img.at(a.i1, b.i0, k) + b.w1 * img.at(a.i1, b.i1, k);
                out.pixels[(static_cast<size_t>(y) * width + x) * c + k] = round_u8(a.w0 * top + a.w1 * bot);
            }
        }
    }
    return out;
}

namespace {

/// For each output index of an in -> out (out <= in) area reduction: the input indices it covers
/// and their weights (overlap / footprint, summing to 1).
struct AreaTaps {
    std::vector<int> first, count;  // per output index: first input index, number of taps
    std::vector<float> weight;      // count[d] weights per output index, in order
};

AreaTaps make_area_taps(int in, int out) {
    AreaTaps t;
    const double scale = static_cast<double>(in) / out;
    for (int d = 0; d < out; ++d) {
        const double lo = d * scale, hi = (d + 1) * scale;
        const int i0 = static_cast<int>(std::floor(lo)), i1 = std::min(in, static_cast<int>(std::ceil(hi)));
        t.first.push_back(i0);
        t.count.push_back(i1 - i0);
        for (int i = i0; i < i1; ++i)
            t.weight.push_back(static_cast<float>((std::min<double>(i + 1, hi) - std::max<double>(i, lo)) / scale));
    }
    return t;
}

}  // namespace

Image resize_area(const Image& img, int width, int height) {
    check_image(img, "resize_area");
    if (width <= 0 || height <= 0 || width > img.width || height > img.height)
        throw Error("resize_area: target size " + std::to_string(width) + "x" + std::to_string(height) +
                    " must be positive and within the image's " + std::to_string(img.width) + "x" +
                    std::to_string(img.height));
    const AreaTaps tx = make_area_taps(img.width, width), ty = make_area_taps(img.height, height);
    const int c = img.channels;
    // Rows first (every input pixel read once), then columns over the narrow intermediate.
    std::vector<float> rows(static_cast<size_t>(img.height) * width * c, 0.f);
    for (int y = 0; y < img.height; ++y) {
        const std::uint8_t* src = img.pixels.data() + static_cast<size_t>(y) * img.width * c;
        float* dst = rows.data() + static_cast<size_t>(y) * width * c;
        size_t wi = 0;
        for (int x = 0; x < width; ++x)
            for (int j = 0; j < tx.count[x]; ++j, ++wi) {
                const std::uint8_t* p = src + static_cast<size_t>(tx.first[x] + j) * c;
                for (int k = 0; k < c; ++k) dst[x * c + k] += tx.weight[wi] * p[k];
            }
    }
    Image out{width, height, c, std::vector<std::uint8_t>(static_cast<size_t>(width) * height * c)};
    std::vector<float> acc(static_cast<size_t>(width) * c);
    size_t wi = 0;
    for (int y = 0; y < height; ++y) {
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int j = 0; j < ty.count[y]; ++j, ++wi) {
            const float* src = rows.data() + static_cast<size_t>(ty.first[y] + j) * width * c;
            for (size_t i = 0; i < acc.size(); ++i) acc[i] += ty.weight[wi] * src[i];
        }
        for (size_t i = 0; i < acc.size(); ++i) out.pixels[static_cast<size_t>(y) * width * c + i] = round_u8(acc[i]);
    }
    return out;
}

Image convert_channels(const Image& img, int channels) {
    check_image(img, "convert_channels");
    if (channels != 1 && channels != 3)
        throw Error("convert_channels: cannot convert to " + std::to_string(channels) + " channels (expected 1 or 3)");
    if (channels == img.channels) return img;
    const size_t n = static_cast<size_t>(img.width) * img.height;
    Image out{img.width, img.height, channels, std::vector<std::uint8_t>(n * channels)};
    if (channels == 3) {
        for (size_t i = 0; i < n; ++i)
            out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = img.pixels[i];
    } else {
        // ITU-R BT.601 luma, the weights PIL's convert('L') and OpenCV's RGB2GRAY use.
        for (size_t i = 0; i < n; ++i) {
            const std::uint8_t* p = &img.pixels[3 * i];
            out.pixels[i] = round_u8(0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]);
        }
    }
    return out;
}

std::vector<float> resize_map(const float* src, int h, int w, int out_h, int out_w) {
    if (h <= 0 || w <= 0 || out_h <= 0 || out_w <= 0)
        throw Error("resize_map: sizes must be positive (got " + std::to_string(h) + "x" + std::to_string(w) + " -> " +
                    std::to_string(out_h) + "x" + std::to_string(out_w) + ")");
    const auto tx = make_taps(w, out_w);
    const auto ty = make_taps(h, out_h);
    std::vector<float> out(static_cast<size_t>(out_h) * out_w);
    for (int y = 0; y < out_h; ++y) {
        const Tap& a = ty[y];
        const float* r0 = src + static_cast<size_t>(a.i0) * w;
        const float* r1 = src + static_cast<size_t>(a.i1) * w;
        for (int x = 0; x < out_w; ++x) {
            const Tap& b = tx[x];
            out[static_cast<size_t>(y) * out_w + x] =
                a.w0 * (b.w0 * r0[b.i0] + b.w1 * r0[b.i1]) + a.w1 * (b.w0 * r1[b.i0] + b.w1 * r1[b.i1]);
        }
    }
    return out;
}

void scale_cam_in_place(float* map, size_t count) {
    if (count == 0) return;
    // float32 throughout, as the library's numpy arithmetic on the float32 maps.
    float mn = std::max(map[0], 0.0f), mx = mn;
    for (size_t i = 0; i < count; ++i) {
        map[i] = std::max(map[i], 0.0f);  // NaN stays NaN: the engine refuses non-finite maps before this
        mn = std::min(mn, map[i]);
        mx = std::max(mx, map[i]);
    }
    const float denom = (mx - mn) + 1e-7f;
    for (size_t i = 0; i < count; ++i) map[i] = (map[i] - mn) / denom;
}

std::vector<float> cam_to_input_size(const float* map, int h, int w, int out_h, int out_w) {
    if (h == out_h && w == out_w) return std::vector<float>(map, map + static_cast<size_t>(h) * w);
    auto up = resize_map(map, h, w, out_h, out_w);
    scale_cam_in_place(up.data(), up.size());
    return up;
}

void jet_rgb(float v, std::uint8_t rgb[3]) { jet_index_rgb(unit_to_index(v), rgb); }

void diverging_rgb(float v, std::uint8_t rgb[3]) {
    if (!(v == v)) v = 0;  // NaN -> neutral white
    v = std::clamp(v, -1.0f, 1.0f);
    if (v < 0) {  // white -> blue (0,0,255)
        const std::uint8_t t = round_u8(255.0f * (1.0f + v));
        rgb[0] = t;
        rgb[1] = t;
        rgb[2] = 255;
    } else {  // white -> red (255,0,0)
        const std::uint8_t t = round_u8(255.0f * (1.0f - v));
        rgb[0] = 255;
        rgb[1] = t;
        rgb[2] = t;
    }
}

Image colorize(const float* map, int h, int w) {
    if (h <= 0 || w <= 0) throw Error("colorize: map size must be positive");
    Image out{w, h, 3, std::vector<std::uint8_t>(static_cast<size_t>(w) * h * 3)};
    for (size_t i = 0, n = static_cast<size_t>(w) * h; i < n; ++i) jet_rgb(map[i], &out.pixels[3 * i]);
    return out;
}

Image overlay_cam(const Image& img, const float* cam) {
    check_image(img, "overlay_cam");
    const Image rgb = convert_channels(img, 3);
    const size_t n = static_cast<size_t>(rgb.width) * rgb.height;
    // Float32 arithmetic in the same order as pytorch-grad-cam's show_cam_on_image
    // (pytorch_grad_cam/utils/image.py), so results match it byte for byte up to float rounding.
    std::vector<float> mixed(n * 3);
    float peak = 0;
    for (size_t i = 0; i < n; ++i) {
        std::uint8_t heat[3];
        jet_index_rgb(unit_to_index(cam[i]), heat);
        for (int k = 0; k < 3; ++k) {
            float v = 0.5f * (static_cast<float>(heat[k]) / 255.0f) +
                      0.5f * (static_cast<float>(rgb.pixels[3 * i + k]) / 255.0f);
            mixed[3 * i + k] = v;
            peak = std::max(peak, v);
        }
    }
    Image out{rgb.width, rgb.height, 3, std::vector<std::uint8_t>(n * 3)};
    for (size_t j = 0; j < n * 3; ++j) {
        float v = peak > 0 ? mixed[j] / peak : 0.0f;
        out.pixels[j] = static_cast<std::uint8_t>(std::clamp(255.0f * v, 0.0f, 255.0f));  // np.uint8 truncates
    }
    return out;
}

Image no_evidence_image(const Image& img, int h, int w) {
    if (h <= 0 || w <= 0) throw UsageError("no_evidence_image: size must be positive, got " + std::to_string(h) + "x" +
                                           std::to_string(w));
    if (!img.empty() && (img.height != h || img.width != w))
        throw UsageError("no_evidence_image: image is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                         ", asked for " + std::to_string(w) + "x" + std::to_string(h));
    Image out{w, h, 3, std::vector<std::uint8_t>(static_cast<size_t>(w) * h * 3)};
    const int period = std::max(4, std::min(h, w) / 4);
    const int stripe = std::max(1, period / 4);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            double grey = 128;
            if (!img.empty()) {
                const std::uint8_t* p = &img.pixels[(static_cast<size_t>(y) * w + x) * img.channels];
                grey = img.channels >= 3 ? 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] : p[0];
            }
            const auto v = static_cast<std::uint8_t>((x + y) % period < stripe ? 70 : std::lround(110 + 0.4 * grey));
            std::uint8_t* o = &out.pixels[(static_cast<size_t>(y) * w + x) * 3];
            o[0] = o[1] = o[2] = v;
        }
    return out;
}

Image upscale_nearest(const Image& img, int factor) {
    check_image(img, "upscale_nearest");
    if (factor < 1) throw Error("upscale_nearest: factor " + std::to_string(factor) + " must be >= 1");
    const int w = img.width * factor, h = img.height * factor, c = img.channels;
    Image out{w, h, c, std::vector<std::uint8_t>(static_cast<size_t>(w) * h * c)};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            std::memcpy(&out.pixels[(static_cast<size_t>(y) * w + x) * c],
                        &img.pixels[(static_cast<size_t>(y / factor) * img.width + x / factor) * c], c);
    return out;
}

}  // namespace camscope

#pragma once
// Torch-free image type and pixel operations used by datasets, CAM overlays and reports.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace camscope {

/// 8-bit image, interleaved H×W×C (C = 1 grey or 3 RGB), row-major.
struct Image {
    int width = 0;
    int height = 0;
    int channels = 0;
    std::vector<std::uint8_t> pixels;  // size = width*height*channels

    std::uint8_t at(int y, int x, int c) const { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
    bool empty() const { return pixels.empty(); }
};

/// Decode PNG/JPEG (anything stb_image reads) from memory. Throws Error naming `name` on failure.
/// Refuses images whose declared size exceeds `max_pixels` (decompression bombs).
constexpr long long kDefaultMaxPixels = 64ll * 1024 * 1024;
Image decode_image(const std::uint8_t* data, size_t size, const std::string& name,
                   long long max_pixels = kDefaultMaxPixels);
Image read_image_file(const std::string& path);

/// The size an image of width×height is decoded at when it will be shown to a model at
/// cover_w×cover_h (see decode_image_reduced): the smallest size with its aspect ratio that still
/// covers cover_w×cover_h, when that is at most half of the image in both dimensions; otherwise
/// the image's own size (also when cover_w or cover_h is <= 0).
std::pair<int, int> reduced_size(int width, int height, int cover_w, int cover_h);

/// decode_image for an image used at cover_w×cover_h (the model's input): a large image comes back
/// at reduced_size() instead of its full size. A JPEG is decoded directly at the smallest
/// libjpeg-turbo DCT scale (1/8, 1/4, 3/8, …) that is not below that size, a PNG is decoded once;
/// then either is area-averaged (resize_area) to the reduced size. A 4000×3000 photo for a 28×28
/// model decodes to 37×28 (the JPEG at 500×375 on the way), so neither the full-size pixels nor
/// full-size overlays outlive the call. Anything not reduced decodes as decode_image.
/// `reduced` (optional) tells whether the image came back smaller than its own size.
Image decode_image_reduced(const std::uint8_t* data, size_t size, const std::string& name, int cover_w, int cover_h,
                           long long max_pixels = kDefaultMaxPixels, bool* reduced = nullptr);
/// read_file + decode_image_reduced.
Image read_image_file(const std::string& path, int cover_w, int cover_h, bool* reduced = nullptr);

/// Declared size and channel count (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) of a PNG/JPEG file,
/// from its header, after the same integrity checks as decode_image (a PNG declaring more than
/// kDefaultMaxPixels is refused). Throws Error naming `path`.
struct ImageHeader {
    int width = 0, height = 0, channels = 0;
};
ImageHeader read_image_header(const std::string& path);

/// Encode as PNG in memory (8-bit grey or RGB; lossless, every row Up-filtered, zlib level 3).
std::vector<std::uint8_t> encode_png(const Image& img);
/// Write PNG atomically (temp name + rename).
void write_png(const std::string& path, const Image& img);

/// Error naming `fn` unless img has 1 or 3 channels, a positive size and width×height×channels bytes.
void check_image(const Image& img, const char* fn);

/// Bilinear resize with half-pixel centres (align_corners=False), rounding to nearest.
Image resize_bilinear(const Image& img, int width, int height);
/// Shrinks by area averaging: each output pixel is the mean of the input area it covers, partly
/// covered pixels weighted by their share (OpenCV's INTER_AREA when shrinking), rounded to
/// nearest. width/height must be positive and not larger than the image's.
Image resize_area(const Image& img, int width, int height);
/// Convert to `channels` (1: luminance ITU-R 601, 3: grey replicated).
Image convert_channels(const Image& img, int channels);

/// Float map resize (H×W, row-major) with half-pixel centres — what cv2.resize(INTER_LINEAR)
/// and torch interpolate(bilinear, align_corners=False) do when upsampling.
std::vector<float> resize_map(const float* src, int h, int w, int out_h, int out_w);

/// A CAM at the model's input size exactly as pytorch-grad-cam delivers it. `map` (h×w) is the
/// engine's layer-resolution map, already ReLU'd and min-maxed (its `compute_cam_per_layer` →
/// `scale_cam_image(cam)`); it is resized to out_h×out_w (cv2.resize INTER_LINEAR = resize_map)
/// and then, as `aggregate_multi_layers` always does, even for one layer, ReLU'd and min-maxed
/// AGAIN at that size (cam -= min; cam /= max + 1e-7): the result spans [0, 1] exactly (bilinear
/// interpolation alone never reaches a map's own extremes). A constant map becomes all zeros.
/// A map already of the output size is returned unchanged: the engine's maps at the input size
/// are final (several layers, --aug-smooth, a layer at the input's resolution).
std::vector<float> cam_to_input_size(const float* map, int h, int w, int out_h, int out_w);
/// The second scaling alone, in place (ReLU, cam -= min, cam /= max + 1e-7): `scale_cam_image`.
void scale_cam_in_place(float* map, size_t count);

/// JET colormap of i = uint8(255·v) (truncated; v clamped to [0,1], NaN -> 0). Returns RGB.
/// Implements the classic piecewise jet r = clamp(1.5-|4x-3|), g = clamp(1.5-|4x-2|),
/// b = clamp(1.5-|4x-1|) with x = i/255, rounded half up. OpenCV's COLORMAP_JET interpolates a
/// 256-entry table of the same curve in float, so it agrees within 1 unit and exactly at the ends:
/// i=0 -> (0,0,128), i=255 -> (128,0,0).
void jet_rgb(float v, std::uint8_t rgb[3]);
/// Diverging blue-white-red colormap for v in [-1,1]. Returns RGB.
void diverging_rgb(float v, std::uint8_t rgb[3]);

/// Heatmap as RGB image (JET) of a map in [0,1], H×W.
Image colorize(const float* map, int h, int w);
/// Overlay as pytorch-grad-cam's show_cam_on_image(use_rgb=True, image_weight=0.5):
/// heat = JET(uint8(255·cam))/255; out = 0.5·heat + 0.5·img/255; out /= max(out); uint8(255·out).
/// `cam` is H×W with the image's size. Grey images are replicated to RGB.
Image overlay_cam(const Image& img, const float* cam);

/// What stands in for a CAM with no positive evidence (all zeros): never the flat overlay such a map
/// would give (it reads as "evidence everywhere, equally"), but `img` in dimmed grey with diagonal
/// hatching, h×w RGB (h, w: the image's size; without an image, mid-grey hatching of that size).
Image no_evidence_image(const Image& img, int h, int w);

/// Nearest-neighbour upscale by an integer factor (for legible thumbnails of 28×28 / 32×32 inputs).
Image upscale_nearest(const Image& img, int factor);

}  // namespace camscope

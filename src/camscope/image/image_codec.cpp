// Image files: PNG (stb, CRCs checked) and JPEG (libjpeg-turbo) decoding with size limits, and PNG
// encoding. The pixel operations are in image.cpp.
#include "camscope/image/image.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>

#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"

// The stb implementations live in this translation unit only. Their own warnings are not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
// stb decodes PNG only (JPEG goes to libjpeg-turbo, see Jpeg below): compiling only that decoder
// keeps stb's other parsers (JPEG, GIF, PSD, PIC, HDR, TGA, BMP, PNM) away from untrusted files.
#define STBI_ONLY_PNG
#include <stb_image.h>
#pragma GCC diagnostic pop
#include <turbojpeg.h>

namespace camscope {
namespace {

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// stb_image skips PNG chunk CRCs, so a flipped byte in pixel data can decode to silently wrong
// pixels. Checking the CRCs (cheap, zlib) turns such corruption into an error that says where.
void verify_png_crcs(const std::uint8_t* data, size_t size, const std::string& name) {
    static const std::uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size < 8 || std::memcmp(data, sig, 8) != 0) return;  // not a PNG
    size_t pos = 8;
    while (pos + 12 <= size) {
        const std::uint32_t len = be32(data + pos);
        if (len > size - pos - 12)
            throw Error(where(name, "PNG chunk at byte offset " + std::to_string(pos) + " declares " +
                                        std::to_string(len) + " bytes, only " + std::to_string(size - pos - 12) +
                                        " remain (truncated file?)"));
        const std::string type(reinterpret_cast<const char*>(data + pos + 4), 4);
        const std::uint32_t stored = be32(data + pos + 8 + len);
        const std::uint32_t actual = static_cast<std::uint32_t>(
            crc32(crc32(0L, Z_NULL, 0), data + pos + 4, static_cast<uInt>(len + 4)));
        if (stored != actual)
            throw Error(where(name, "PNG chunk '" + type + "' at byte offset " + std::to_string(pos) +
                                        " fails its CRC check (corrupt file)"));
        pos += 12 + len;
        if (type == "IEND") return;
    }
    // stb would decode what it has (and pass a null buffer to memcpy for an empty last IDAT).
    throw Error(where(name, "PNG ends at byte " + std::to_string(size) + " without its IEND chunk" +
                                (pos < size ? " (a chunk at byte offset " + std::to_string(pos) + " is cut short)" : "") +
                                ": truncated file"));
}

// A PNG's declared size, checked before stb sees it: stb refuses images over 1 GiB itself, but
// stbi_info then goes on to try its other formats and reports "not of any known type".
void check_png_declared_size(const std::uint8_t* data, size_t size, const std::string& name, long long max_pixels) {
    if (size < 24 || std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0 || std::memcmp(data + 12, "IHDR", 4) != 0) return;
    const long long w = be32(data + 16), h = be32(data + 20);
    if (w * h > max_pixels)
        throw Error(where(name, "declared size " + std::to_string(w) + "x" + std::to_string(h) + " exceeds the limit of " +
                                    std::to_string(max_pixels) + " pixels"));
}

bool is_jpeg(const std::uint8_t* data, size_t size) {
    return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

/// JPEG through libjpeg-turbo's TurboJPEG API (Debian's libturbojpeg, fuzzed upstream by
/// OSS-Fuzz). stb_image 2.27, Debian 12's libstb-dev, is used for PNG only: its JPEG decoder
/// writes past a Huffman table given more than 256 codes and shifts by negative amounts on
/// corrupt entropy-coded data (both found by fuzz/fuzz_image_decode; fixed upstream in 2.28).
class Jpeg {
public:
    Jpeg(const std::uint8_t* data, size_t size, const std::string& name)
        : data_(data), size_(size), name_(name), handle_(tjInitDecompress(), tjDestroy) {
        if (!handle_) throw Error(where(name, "cannot start the JPEG decoder"));
        int subsamp = 0;
        if (tjDecompressHeader3(handle_.get(), data_, static_cast<unsigned long>(size_), &width, &height, &subsamp,
                                &colorspace) != 0)
            fail("cannot read JPEG header");
    }

    int channels() const { return colorspace == TJCS_GRAY ? 1 : 3; }

    /// Decodes to grey (1 channel) or RGB (3), at full size or, when `at_least_w`×`at_least_h` is
    /// smaller, at the smallest of libjpeg-turbo's DCT scales (n/8) whose size is not below it.
    /// Corrupt data that libjpeg would paper over with grey blocks (a warning) is refused too.
    Image decode(int at_least_w = 0, int at_least_h = 0) {
        int w = width, h = height;
        if (at_least_w > 0 && at_least_h > 0) {
            int count = 0;
            const tjscalingfactor* f = tjGetScalingFactors(&count);
            for (int i = 0; f && i < count; ++i) {
                const int sw = TJSCALED(width, f[i]), sh = TJSCALED(height, f[i]);
                if (sw >= at_least_w && sh >= at_least_h && sw <= w && sh <= h) {
                    w = sw;
                    h = sh;
                }
            }
        }
        Image img;
        img.width = w;
        img.height = h;
        img.channels = channels();
        img.pixels.resize(static_cast<size_t>(w) * h * img.channels);
        // Given a smaller width and height, tjDecompress2 decodes at the largest scale that fits.
        if (tjDecompress2(handle_.get(), data_, static_cast<unsigned long>(size_), img.pixels.data(), w, 0, h,
                          img.channels == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) != 0)
            fail("cannot decode JPEG");
        return img;
    }

    int width = 0, height = 0, colorspace = 0;

private:
    [[noreturn]] void fail(const std::string& what) {
        throw Error(where(name_, what + ": " + tjGetErrorStr2(handle_.get())));
    }
    const std::uint8_t* data_;
    size_t size_;
    const std::string& name_;
    std::unique_ptr<void, int (*)(tjhandle)> handle_;  // destroyed when the constructor throws too
};

void check_declared_size(long long w, long long h, const std::string& name, long long max_pixels) {
    if (w <= 0 || h <= 0 || w * h > max_pixels)
        throw Error(where(name, "declared size " + std::to_string(w) + "x" + std::to_string(h) + " exceeds the limit of " +
                                    std::to_string(max_pixels) + " pixels"));
}

// Bilinear sampling with half-pixel centres, as torch.nn.functional.interpolate(mode='bilinear',
// align_corners=False) (aten/src/ATen/native/UpSample.h: area_pixel_compute_source_index) and
// cv2.resize(INTER_LINEAR): src = (dst + 0.5) * in/out - 0.5, clamped at 0; the upper neighbour
// is clamped to the last row/column.

}  // namespace

Image decode_image(const std::uint8_t* data, size_t size, const std::string& name, long long max_pixels) {
    if (data == nullptr || size == 0) throw Error(where(name, "empty file, expected a PNG or JPEG image"));
    if (size > static_cast<size_t>(INT_MAX)) throw Error(where(name, "file too large to decode (over 2 GiB)"));
    if (is_jpeg(data, size)) {
        Jpeg jpeg(data, size, name);
        check_declared_size(jpeg.width, jpeg.height, name, max_pixels);  // before the buffer is allocated
        return jpeg.decode();
    }
    verify_png_crcs(data, size, name);
    check_png_declared_size(data, size, name, max_pixels);
    const int len = static_cast<int>(size);
    int w = 0, h = 0, comp = 0;
    // Read the declared size first so a tiny file that claims 100000×100000 pixels is refused
    // before stb allocates the decoded buffer.
    if (!stbi_info_from_memory(data, len, &w, &h, &comp))
        throw Error(where(name, std::string("cannot decode image: ") + stbi_failure_reason()));
    check_declared_size(w, h, name, max_pixels);
    // Keep grey as grey (dropping alpha), colour as RGB (dropping alpha).
    const int want = (comp == 1 || comp == 2) ? 1 : 3;
    int dw = 0, dh = 0, dc = 0;
    stbi_uc* px = stbi_load_from_memory(data, len, &dw, &dh, &dc, want);
    if (!px) throw Error(where(name, std::string("cannot decode image: ") + stbi_failure_reason()));
    std::unique_ptr<stbi_uc, void (*)(void*)> owner(px, stbi_image_free);
    Image img;
    img.width = dw;
    img.height = dh;
    img.channels = want;
    img.pixels.assign(px, px + static_cast<size_t>(dw) * dh * want);
    return img;
}

ImageHeader read_image_header(const std::string& path) {
    const std::vector<std::uint8_t> bytes = read_file(path);
    if (bytes.empty()) throw Error(where(path, "empty file, expected a PNG or JPEG image"));
    if (bytes.size() > static_cast<size_t>(INT_MAX)) throw Error(where(path, "file too large to decode (over 2 GiB)"));
    ImageHeader h;
    if (is_jpeg(bytes.data(), bytes.size())) {
        Jpeg jpeg(bytes.data(), bytes.size(), path);
        h.width = jpeg.width;
        h.height = jpeg.height;
        h.channels = jpeg.channels();
        return h;
    }
    verify_png_crcs(bytes.data(), bytes.size(), path);
    check_png_declared_size(bytes.data(), bytes.size(), path, kDefaultMaxPixels);
    if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &h.width, &h.height, &h.channels))
        throw Error(where(path, std::string("cannot read image header: ") + stbi_failure_reason()));
    return h;
}

Image read_image_file(const std::string& path) {
    std::vector<std::uint8_t> bytes = read_file(path);
    return decode_image(bytes.data(), bytes.size(), path);
}

std::pair<int, int> reduced_size(int width, int height, int cover_w, int cover_h) {
    if (cover_w <= 0 || cover_h <= 0 || width <= 0 || height <= 0) return {width, height};
    // The scale at which the image just covers the target in both dimensions.
    const double s = std::max(static_cast<double>(cover_w) / width, static_cast<double>(cover_h) / height);
    if (s > 0.5) return {width, height};  // not worth it: at most a 2x reduction
    const int w = std::clamp(static_cast<int>(std::lround(width * s)), cover_w, width);
    const int h = std::clamp(static_cast<int>(std::lround(height * s)), cover_h, height);
    return {w, h};
}

Image decode_image_reduced(const std::uint8_t* data, size_t size, const std::string& name, int cover_w, int cover_h,
                           long long max_pixels, bool* reduced) {
    if (reduced) *reduced = false;
    if (cover_w <= 0 || cover_h <= 0 || data == nullptr || size == 0 || size > static_cast<size_t>(INT_MAX))
        return decode_image(data, size, name, max_pixels);  // (its errors for the bad cases)
    Image img;
    int full_w = 0, full_h = 0;
    if (is_jpeg(data, size)) {
        Jpeg jpeg(data, size, name);
        check_declared_size(jpeg.width, jpeg.height, name, max_pixels);
        full_w = jpeg.width;
        full_h = jpeg.height;
        const auto [w, h] = reduced_size(full_w, full_h, cover_w, cover_h);
        img = jpeg.decode(w, h);
    } else {
        img = decode_image(data, size, name, max_pixels);
        full_w = img.width;
        full_h = img.height;
    }
    const auto [w, h] = reduced_size(full_w, full_h, cover_w, cover_h);
    if (reduced) *reduced = w != full_w || h != full_h;
    return img.width == w && img.height == h ? img : resize_area(img, w, h);
}

Image read_image_file(const std::string& path, int cover_w, int cover_h, bool* reduced) {
    std::vector<std::uint8_t> bytes = read_file(path);
    return decode_image_reduced(bytes.data(), bytes.size(), path, cover_w, cover_h, kDefaultMaxPixels, reduced);
}

namespace {

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

void png_chunk(std::vector<std::uint8_t>& out, const char type[4], const std::uint8_t* data, size_t size) {
    put32(out, static_cast<std::uint32_t>(size));
    const size_t at = out.size();
    out.insert(out.end(), type, type + 4);
    if (size) out.insert(out.end(), data, data + size);
    put32(out, static_cast<std::uint32_t>(crc32(0, out.data() + at, static_cast<uInt>(size + 4))));
}

}  // namespace

std::vector<std::uint8_t> encode_png(const Image& img) {
    check_image(img, "encode_png");
    // Every row "Up"-filtered (a subtraction the compiler vectorises) and zlib level 3. Measured on
    // a report's explorer tiles and figures against stb_image_write (every filter tried on every
    // row, its own deflate at level 8) and against level 6 and the Sub/Paeth filters: 2.1x and
    // 4.9x faster than stb with files 12 % and 6 % smaller; level 6 is 1.5x slower for files 3-15 %
    // smaller. Lossless either way.
    const size_t stride = static_cast<size_t>(img.width) * img.channels;
    std::vector<std::uint8_t> raw((stride + 1) * static_cast<size_t>(img.height));
    for (int y = 0; y < img.height; ++y) {
        const std::uint8_t* cur = img.pixels.data() + static_cast<size_t>(y) * stride;
        std::uint8_t* o = raw.data() + static_cast<size_t>(y) * (stride + 1);
        if (y == 0) {
            *o = 0;  // None: the Up filter of the first row is the row itself
            std::memcpy(o + 1, cur, stride);
            continue;
        }
        *o++ = 2;  // Up
        const std::uint8_t* up = cur - stride;
        for (size_t i = 0; i < stride; ++i) o[i] = static_cast<std::uint8_t>(cur[i] - up[i]);
    }
    uLongf size = compressBound(static_cast<uLong>(raw.size()));
    std::vector<std::uint8_t> z(size);
    if (compress2(z.data(), &size, raw.data(), static_cast<uLong>(raw.size()), 3) != Z_OK)
        throw Error("encode_png: zlib failed to compress a " + std::to_string(img.width) + "x" +
                    std::to_string(img.height) + " image");
    std::vector<std::uint8_t> out{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    out.reserve(8 + 25 + 12 + size + 12);
    std::vector<std::uint8_t> ihdr;
    put32(ihdr, static_cast<std::uint32_t>(img.width));
    put32(ihdr, static_cast<std::uint32_t>(img.height));
    ihdr.insert(ihdr.end(), {8, static_cast<std::uint8_t>(img.channels == 3 ? 2 : 0), 0, 0, 0});
    png_chunk(out, "IHDR", ihdr.data(), ihdr.size());
    // A chunk's length field tops out at 2^31 - 1: large images take several IDAT chunks.
    constexpr size_t kIdat = size_t{1} << 30;
    for (size_t at = 0; at < size; at += kIdat)
        png_chunk(out, "IDAT", z.data() + at, std::min<size_t>(kIdat, size - at));
    png_chunk(out, "IEND", nullptr, 0);
    return out;
}

void write_png(const std::string& path, const Image& img) { write_file_atomic(path, encode_png(img)); }

}  // namespace camscope

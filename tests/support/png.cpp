#include "support/png.hpp"

#include "support/files.hpp"

namespace camscope::support {

bool is_png_data(const std::string& bytes) {
    return bytes.size() > 8 && bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0;
}

bool is_png(const std::filesystem::path& p) { return is_png_data(slurp(p)); }

Image decode_png(const std::string& bytes, const std::string& what) {
    return decode_image(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), what);
}

Image read_png(const std::filesystem::path& p) { return decode_png(slurp(p), p.string()); }

long count_rgb(const Image& img, std::uint32_t rgb) {
    long n = 0;
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x)
            n += img.channels >= 3 && img.at(y, x, 0) == ((rgb >> 16) & 0xFF) && img.at(y, x, 1) == ((rgb >> 8) & 0xFF) &&
                 img.at(y, x, 2) == (rgb & 0xFF);
    return n;
}

bool is_grey(const Image& img) {
    bool grey = true;
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x)
            grey &= img.at(y, x, 0) == img.at(y, x, 1) && img.at(y, x, 1) == img.at(y, x, 2);
    return grey;
}

}  // namespace camscope::support

// libFuzzer target: the image decoding path of image-folder datasets (camscope/image/image.cpp:
// PNG CRC check, declared-size limit, stb_image PNG, libjpeg-turbo JPEG) followed by what to_input()
// does with a decoded image (channel conversion, bilinear resize), and the reduced decoding of
// large images (decode_image_reduced). Only camscope::Error may escape.
#include "camscope/image/image.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        // A lower pixel limit than the default keeps one input's work small (the limit itself is
        // what is being exercised, not the size of the buffer).
        camscope::Image img = camscope::decode_image(data, size, "fuzz.png", 1 << 20);
        if (img.pixels.size() != static_cast<std::size_t>(img.width) * img.height * img.channels) std::abort();
        camscope::InputSpec spec;
        spec.channels = img.channels == 1 ? 3 : 1;
        spec.height = 8;
        spec.width = 8;
        std::vector<float> x(static_cast<std::size_t>(spec.channels) * 64);
        camscope::to_input(img, spec, x.data());
        // The reduced decoding of large images (JPEG DCT scaling, area averaging) of the same
        // bytes: a 4×4 cover reduces anything from 8×8 up.
        camscope::Image small = camscope::decode_image_reduced(data, size, "fuzz.png", 4, 4, 1 << 20);
        if (small.pixels.size() != static_cast<std::size_t>(small.width) * small.height * small.channels ||
            small.width > img.width || small.height > img.height || small.channels != img.channels)
            std::abort();
    } catch (const camscope::Error&) {
    }
    return 0;
}

// libFuzzer target: the image decoding path of image-folder datasets (camscope/image/image.cpp:
// PNG CRC check, declared-size limit, stb_image PNG/JPEG) followed by what to_input() does with a
// decoded image (channel conversion, bilinear resize). Only camscope::Error may escape.
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
    } catch (const camscope::Error&) {
    }
    return 0;
}

// libFuzzer target: the camscope.json metadata of camscope's checkpoints
// (camscope/data/model_metadata.cpp), whatever bytes a .pt file's extra file holds.
// Only camscope::Error may escape; what parses must be a usable InputSpec.
#include <string_view>

#include "camscope/data/model_metadata.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto m = camscope::parse_model_metadata(std::string_view(reinterpret_cast<const char*>(data), size), "m.pt");
        if (m.input) {
            std::vector<float> x(static_cast<std::size_t>(m.input->channels) * 4);
            camscope::Image img{2, 2, 3, std::vector<std::uint8_t>(12, 7)};
            camscope::InputSpec small = *m.input;
            small.height = 2;
            small.width = 2;
            camscope::to_input(img, small, x.data());  // validates the normalisation it parsed
        }
    } catch (const camscope::Error&) {
    }
    return 0;
}

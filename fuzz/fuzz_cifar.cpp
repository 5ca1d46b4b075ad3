// libFuzzer target: CIFAR-10 and CIFAR-100 binary batch files (camscope/data/cifar.cpp).
// The first byte picks the layout; the rest is the file. Only camscope::Error may escape.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const bool hundred = data[0] & 1;
    const std::string path = camscope::fuzz::put("batch.bin", data + 1, size - 1);
    try {
        camscope::OpenOptions opt;
        opt.format = hundred ? "cifar100" : "cifar10";
        auto ds = camscope::open_dataset(path, opt);
        camscope::fuzz::read_all(*ds);
    } catch (const camscope::Error&) {
    }
    return 0;
}

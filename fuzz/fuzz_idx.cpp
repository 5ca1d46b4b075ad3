// libFuzzer target: IDX images + labels (camscope/data/idx.cpp), plain or gzipped.
// Input: 2 bytes (big-endian) = length of the images file, then the images file, then the labels
// file. Built twice: fuzz_idx (plain files) and fuzz_idx_gz (the same bytes named *.gz, so they
// go through zlib). Only camscope::Error may escape.
#include <algorithm>

#include "fuzz_common.hpp"

#ifndef CAMSCOPE_FUZZ_GZ
#define CAMSCOPE_FUZZ_GZ 0
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t n = std::min<std::size_t>((std::size_t{data[0]} << 8) | data[1], size - 2);
    const char* ext = CAMSCOPE_FUZZ_GZ ? ".gz" : "";
    const std::string images = camscope::fuzz::put(std::string("t10k-images-idx3-ubyte") + ext, data + 2, n);
    camscope::fuzz::put(std::string("t10k-labels-idx1-ubyte") + ext, data + 2 + n, size - 2 - n);
    try {
        camscope::OpenOptions opt;
        opt.format = "idx";
        auto ds = camscope::open_dataset(images, opt);
        camscope::fuzz::read_all(*ds);
    } catch (const camscope::Error&) {
    }
    return 0;
}

// Resource limits of the dataset readers: opening lists, it does not read.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "camscope/data/dataset.hpp"
#include "camscope/image/image.hpp"
#include "camscope/util/error.hpp"

namespace fs = std::filesystem;
using namespace camscope;

// 100,000 files in 10 class folders, all zero bytes except the very first (a valid 2×2 PNG, whose
// header gives the preset size). Decoding, or even reading, any other file at open would throw
// "empty file": so opening succeeds only if it lists names and touches one header, and the dataset
// reports every file. get() then decodes on demand, one file at a time.
TEST(Folder, HundredThousandFilesAreListedNotRead) {
    const fs::path root = fs::temp_directory_path() / ("camscope_100k_" + std::to_string(::getpid()));
    fs::remove_all(root);
    constexpr int kClasses = 10, kPerClass = 10000;
    for (int c = 0; c < kClasses; ++c) {
        const fs::path dir = root / ("class_" + std::to_string(c));
        fs::create_directories(dir);
        for (int i = 0; i < kPerClass; ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "img_%05d.png", i);
            if (c == 0 && i == 0) {
                write_png((dir / name).string(), Image{2, 2, 3, std::vector<std::uint8_t>(12, 9)});
                continue;
            }
            const int fd = ::open((dir / name).c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
            ASSERT_GE(fd, 0) << dir / name;
            ::close(fd);
        }
    }
    auto ds = open_dataset(root.string());
    EXPECT_EQ(ds->info().format, "folder");
    EXPECT_EQ(ds->size(), static_cast<size_t>(kClasses) * kPerClass);
    EXPECT_EQ(ds->num_classes(), static_cast<size_t>(kClasses));
    EXPECT_EQ(ds->info().preset.width, 2);
    EXPECT_EQ(ds->get(0).image.at(1, 1, 2), 9);
    try {
        ds->get(kPerClass + 5);  // class_1/img_00005.png
        ADD_FAILURE() << "a zero-byte image decoded";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("class_1/img_00005.png: empty file"), std::string::npos) << e.what();
    }
    fs::remove_all(root);
}

// Inputs the fuzzers once crashed on (tests/fuzz_regressions/, replayed by scripts/fuzz.sh too):
// decoding each must now be refused with an Error that names the file. Reading the header alone
// may succeed where only the compressed data is corrupt, and must not crash either.
TEST(FuzzRegressions, ImagesAreRefusedWithAnError) {
    const fs::path dir = fs::path(CAMSCOPE_FIXTURES_DIR).parent_path() / "fuzz_regressions" / "fuzz_image_decode";
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        ++n;
        const std::string path = e.path().string();
        try {
            read_image_file(path);
            ADD_FAILURE() << path << " decoded";
        } catch (const Error& err) {
            EXPECT_NE(std::string(err.what()).find(path + ": "), std::string::npos) << err.what();
        }
        try {
            const auto h = read_image_header(path);
            EXPECT_GT(h.width, 0) << path;
        } catch (const Error& err) {
            EXPECT_NE(std::string(err.what()).find(path + ": "), std::string::npos) << err.what();
        }
    }
    EXPECT_GE(n, 3);
}

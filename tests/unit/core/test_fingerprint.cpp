// The dataset fingerprint (identity.hpp, Dataset::fingerprint) and the readers that must not be
// fooled by special files (RegularFile, read_npy) or share a chunk folder (FolderLock).
//
// Property: any single changed label or image (one pixel, anywhere) changes the fingerprint; a
// copy of the same data (another path, another order of reading) does not.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "camscope/data/dataset.hpp"
#include "camscope/image/image.hpp"
#include "camscope/report/identity.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/npy.hpp"

namespace fs = std::filesystem;
using namespace camscope;

namespace {

/// n random 5×4×3 images with random labels of k classes, held in memory.
class RandomDataset : public Dataset {
public:
    RandomDataset(size_t n, int k, unsigned seed) {
        info_.format = "cifar10";
        info_.name = "random";
        info_.split = "test";
        for (int c = 0; c < k; ++c) info_.class_names.push_back("c" + std::to_string(c));
        std::mt19937 rng(seed);
        for (size_t i = 0; i < n; ++i) {
            Sample s;
            s.image = Image{5, 4, 3, std::vector<std::uint8_t>(60)};
            for (auto& p : s.image.pixels) p = static_cast<std::uint8_t>(rng());
            s.label = static_cast<int>(rng() % k);
            samples.push_back(std::move(s));
        }
    }
    size_t size() const override { return samples.size(); }
    Sample get(size_t i) const override { return samples.at(i); }
    const DatasetInfo& info() const override { return info_; }
    std::vector<Sample> samples;
    DatasetInfo info_;
};

std::string fingerprint(const Dataset& ds) {
    RunIdentity id;
    identify_dataset(id, ds, "/nowhere");
    return id.data_fingerprint;
}

fs::path scratch(const std::string& name) {
    const fs::path d = fs::temp_directory_path() / ("camscope_fp_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

}  // namespace

TEST(Fingerprint, AnySingleChangedLabelOrPixelChangesIt) {
    RandomDataset ds(500, 10, 7);
    const std::string base = fingerprint(ds);
    EXPECT_EQ(base, fingerprint(RandomDataset(500, 10, 7))) << "the same data gives the same fingerprint";
    std::mt19937 rng(11);
    for (int trial = 0; trial < 300; ++trial) {
        RandomDataset changed = ds;
        const size_t i = rng() % ds.size();
        if (trial % 2 == 0) {
            int& l = changed.samples[i].label;
            l = (l + 1 + static_cast<int>(rng() % 9)) % 10;
        } else {
            auto& p = changed.samples[i].image.pixels[rng() % 60];
            p = static_cast<std::uint8_t>(p + 1 + rng() % 255);
        }
        EXPECT_NE(fingerprint(changed), base) << "trial " << trial << ": image " << i;
    }
    // Two images swapped, an image's size, a class name: also seen.
    RandomDataset swapped = ds;
    std::swap(swapped.samples[100], swapped.samples[101]);
    EXPECT_NE(fingerprint(swapped), base);
    RandomDataset renamed = ds;
    renamed.info_.class_names[3] = "cat";
    EXPECT_NE(fingerprint(renamed), base);
}

TEST(Fingerprint, ImageFoldersByNamesSizesAndClasses) {
    const fs::path d = scratch("folder");
    // Three classes of two PNGs each (the decoder is not involved: only names and sizes count).
    auto write_png = [&](const fs::path& p, int shade) {
        fs::create_directories(p.parent_path());
        Image img{4, 4, 3, std::vector<std::uint8_t>(48, static_cast<std::uint8_t>(shade))};
        write_file_atomic(p.string(), encode_png(img));
    };
    for (int c = 0; c < 3; ++c)
        for (int j = 0; j < 2; ++j) write_png(d / ("class" + std::to_string(c)) / ("img" + std::to_string(j) + ".png"), 40 * c + j);
    const std::string base = fingerprint(*open_dataset(d.string()));
    // The same files elsewhere: the same.
    const fs::path copy = scratch("folder_copy");
    fs::copy(d, copy, fs::copy_options::recursive);
    EXPECT_EQ(fingerprint(*open_dataset(copy.string())), base);
    // An image moved to another class, renamed, or of another size: different.
    fs::rename(copy / "class0" / "img1.png", copy / "class1" / "img9.png");
    EXPECT_NE(fingerprint(*open_dataset(copy.string())), base);
    fs::rename(copy / "class1" / "img9.png", copy / "class0" / "img2.png");
    EXPECT_NE(fingerprint(*open_dataset(copy.string())), base);
    fs::rename(copy / "class0" / "img2.png", copy / "class0" / "img1.png");
    EXPECT_EQ(fingerprint(*open_dataset(copy.string())), base);
    { std::ofstream(copy / "class2" / "img0.png", std::ios::app) << "trailing bytes"; }
    EXPECT_NE(fingerprint(*open_dataset(copy.string())), base);
    fs::remove_all(d);
    fs::remove_all(copy);
}

TEST(RegularFile, RefusesFifosDevicesAndFoldersWithoutBlocking) {
    const fs::path d = scratch("special");
    const fs::path fifo = d / "pipe.npy", zero = d / "zero.npy", link_to_folder = d / "folder.json";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    fs::create_symlink("/dev/zero", zero);
    fs::create_symlink(d, link_to_folder);
    auto message = [](auto&& f) {
        try {
            f();
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    // A FIFO with no writer would block open() and read() forever without O_NONBLOCK.
    EXPECT_EQ(message([&] { read_file(fifo.string()); }), fifo.string() + ": is a FIFO (named pipe), expected a regular file");
    EXPECT_EQ(message([&] { read_npy(fifo.string()); }), fifo.string() + ": is a FIFO (named pipe), expected a regular file");
    EXPECT_EQ(message([&] { read_npy(zero.string()); }), zero.string() + ": is a character device, expected a regular file");
    EXPECT_EQ(message([&] { read_file(link_to_folder.string()); }), link_to_folder.string() + ": is a folder, expected a regular file");
    // A regular file larger than the caller's bound is refused by its size, before it is read.
    write_file_atomic((d / "big.json").string(), std::string(1000, 'x'));
    EXPECT_EQ(message([&] { read_file((d / "big.json").string(), 999); }),
              (d / "big.json").string() + ": is 1000 bytes, more than the 999 bytes camscope reads from such a file");
    EXPECT_EQ(read_file((d / "big.json").string(), 1000).size(), 1000u);
    // A .npy is read through its header: trailing or missing bytes are named before the data is read.
    const float v[3] = {1, 2, 3};
    write_npy((d / "a.npy").string(), v, {3});
    EXPECT_EQ(read_npy((d / "a.npy").string()).as_float(), (std::vector<float>{1, 2, 3}));
    { std::ofstream((d / "a.npy"), std::ios::app) << "0123"; }
    EXPECT_NE(message([&] { read_npy((d / "a.npy").string()); }).find("trailing data: expected 12 bytes, found 16"),
              std::string::npos);
    fs::remove_all(d);
}

TEST(FolderLock, ASecondHolderIsRefusedUntilTheFirstLetsGo) {
    const fs::path d = scratch("lock") / "out.partial";
    {
        FolderLock first(d.string(), "busy");
        EXPECT_TRUE(fs::is_directory(d));
        // flock locks belong to the open file description: a second open in this process conflicts
        // as one in another process would.
        try {
            FolderLock second(d.string(), "another run holds it");
            ADD_FAILURE() << "second lock taken";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), d.string() + ": another run holds it");
        }
        // The holder may remove the folder; a new lock then locks the new folder.
        fs::remove_all(d);
    }
    FolderLock again(d.string(), "busy");
    EXPECT_TRUE(fs::is_directory(d));
    fs::remove_all(d.parent_path());
}

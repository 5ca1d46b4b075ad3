// Unit tests for camscope/data: CIFAR-10/100 binary, IDX (plain and gzip), image folders,
// format detection and input conversion. Every dataset file is written by the test itself,
// except the optional real Fashion-MNIST check whose facts were read with Python's gzip module.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "camscope/data/dataset.hpp"
#include "camscope/image/image.hpp"
#include "camscope/util/error.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using Bytes = std::vector<std::uint8_t>;
using support::error_of;
using support::TempDir;

namespace {

void write_file(const std::string& path, const Bytes& data) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

void write_text(const std::string& path, const std::string& text) {
    write_file(path, Bytes(text.begin(), text.end()));
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

// Distinct, position-dependent plane contents so a swapped plane or a transposed index shows.
std::uint8_t red(int p, int rec) { return static_cast<std::uint8_t>((p + 7 * rec) % 251); }
std::uint8_t green(int p, int rec) { return static_cast<std::uint8_t>((3 * p + rec) % 256); }
std::uint8_t blue(int p, int rec) { return static_cast<std::uint8_t>(255 - (p + rec) % 256); }

/// One CIFAR record: `labels` (1 byte for CIFAR-10, coarse+fine for CIFAR-100), R, G, B planes.
Bytes cifar_record(Bytes labels, int rec) {
    Bytes r = std::move(labels);
    for (int p = 0; p < 1024; ++p) r.push_back(red(p, rec));
    for (int p = 0; p < 1024; ++p) r.push_back(green(p, rec));
    for (int p = 0; p < 1024; ++p) r.push_back(blue(p, rec));
    return r;
}

Bytes concat(const std::vector<Bytes>& parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

void expect_planes(const Image& img, int rec) {
    ASSERT_EQ(img.width, 32);
    ASSERT_EQ(img.height, 32);
    ASSERT_EQ(img.channels, 3);
    for (int y : {0, 5, 31})
        for (int x : {0, 17, 31}) {
            const int p = y * 32 + x;  // row-major within each plane
            EXPECT_EQ(img.at(y, x, 0), red(p, rec)) << y << "," << x;
            EXPECT_EQ(img.at(y, x, 1), green(p, rec)) << y << "," << x;
            EXPECT_EQ(img.at(y, x, 2), blue(p, rec)) << y << "," << x;
        }
}

Bytes be32(std::uint32_t v) {
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 8),
            static_cast<std::uint8_t>(v)};
}

/// IDX images file: magic 0x803, count, rows, cols, then `px`.
Bytes idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, const Bytes& px,
                 std::uint32_t magic = 0x803) {
    return concat({be32(magic), be32(count), be32(rows), be32(cols), px});
}
Bytes idx_labels(const Bytes& labels) {
    return concat({be32(0x801), be32(static_cast<std::uint32_t>(labels.size())), labels});
}

void write_gz(const std::string& path, const Bytes& data) {
    fs::create_directories(fs::path(path).parent_path());
    gzFile gz = gzopen(path.c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    ASSERT_EQ(gzwrite(gz, data.data(), static_cast<unsigned>(data.size())), static_cast<int>(data.size()));
    ASSERT_EQ(gzclose(gz), Z_OK);
}

}  // namespace

// ------------------------------------------------------------------------------ CIFAR-10

TEST(Cifar10, ReadsTestBatchWithPlanesLabelsAndNames) {
    TempDir d;
    write_file(d / "test_batch.bin", concat({cifar_record({3}, 0), cifar_record({9}, 1)}));
    write_text(d / "batches.meta.txt", "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
    auto ds = open_dataset(d.str());
    EXPECT_EQ(ds->info().format, "cifar10");
    EXPECT_EQ(ds->info().split, "test");
    ASSERT_EQ(ds->size(), 2u);
    ASSERT_EQ(ds->num_classes(), 10u);
    EXPECT_EQ(ds->info().class_names[3], "cat");
    EXPECT_EQ(ds->info().class_names[9], "truck");
    EXPECT_TRUE(ds->info().fine_to_coarse.empty());
    EXPECT_EQ(ds->info().preset.channels, 3);
    EXPECT_EQ(ds->info().preset.height, 32);
    EXPECT_FLOAT_EQ(ds->info().preset.norm.mean[0], 0.4914f);
    EXPECT_FLOAT_EQ(ds->info().preset.norm.std[2], 0.2616f);
    Sample s0 = ds->get(0), s1 = ds->get(1);
    EXPECT_EQ(s0.label, 3);
    EXPECT_EQ(s0.coarse, -1);
    EXPECT_EQ(s1.label, 9);
    expect_planes(s0.image, 0);
    expect_planes(s1.image, 1);
    EXPECT_THROW(ds->get(2), Error);
}

TEST(Cifar10, TrainSplitConcatenatesFiveBatchesInSubfolder) {
    TempDir d;
    const std::string sub = d / "cifar-10-batches-bin";
    int rec = 0;
    for (int b = 1; b <= 5; ++b) {  // batch b holds b records, labelled b
        std::vector<Bytes> recs;
        for (int k = 0; k < b; ++k) recs.push_back(cifar_record({static_cast<std::uint8_t>(b)}, rec++));
        write_file(sub + "/data_batch_" + std::to_string(b) + ".bin", concat(recs));
    }
    write_file(sub + "/test_batch.bin", cifar_record({0}, 99));
    auto ds = open_dataset(d.str(), {"train", ""});
    ASSERT_EQ(ds->size(), 15u);  // 1+2+3+4+5
    EXPECT_EQ(ds->info().class_names[0], "class_0");  // no batches.meta.txt
    EXPECT_EQ(ds->get(0).label, 1);
    EXPECT_EQ(ds->get(1).label, 2);
    EXPECT_EQ(ds->get(3).label, 3);
    EXPECT_EQ(ds->get(9).label, 4);
    EXPECT_EQ(ds->get(14).label, 5);
    expect_planes(ds->get(12).image, 12);
    // A single .bin file is a dataset on its own.
    auto one = open_dataset(sub + "/data_batch_3.bin");
    EXPECT_EQ(one->size(), 3u);
    expect_planes(one->get(2).image, 5);
}

TEST(Cifar10, TruncatedFileNamesFileRecordsAndTrailingBytes) {
    TempDir d;
    Bytes data = concat({cifar_record({1}, 0), cifar_record({2}, 1)});
    data.resize(data.size() + 5, 0);
    write_file(d / "test_batch.bin", data);
    std::string msg = error_of([&] { open_dataset(d.str()); });
    EXPECT_HAS(msg, "test_batch.bin");
    EXPECT_HAS(msg, "record");
    EXPECT_HAS(msg, "2 whole records and 5 trailing bytes");
}

TEST(Cifar10, LabelOutOfRangeNamesRecordAndOffset) {
    TempDir d;
    write_file(d / "test_batch.bin", concat({cifar_record({1}, 0), cifar_record({10}, 1)}));
    auto ds = open_dataset(d.str());
    EXPECT_EQ(ds->get(0).label, 1);
    std::string msg = error_of([&] { ds->get(1); });
    EXPECT_HAS(msg, "test_batch.bin");
    EXPECT_HAS(msg, "record 1 (byte offset 3073)");
    EXPECT_HAS(msg, "label 10");
}

// ------------------------------------------------------------------------------ CIFAR-100

TEST(Cifar100, ReadsCoarseAndFineLabels) {
    TempDir d;
    const std::string sub = d / "cifar-100-binary";
    write_file(sub + "/test.bin", concat({cifar_record({4, 0}, 0), cifar_record({13, 99}, 1)}));
    write_file(sub + "/train.bin", cifar_record({19, 41}, 2));
    std::string fine;
    for (int i = 0; i < 100; ++i) fine += "fine" + std::to_string(i) + "\n";
    write_text(sub + "/fine_label_names.txt", fine);
    auto ds = open_dataset(d.str());
    EXPECT_EQ(ds->info().format, "cifar100");
    ASSERT_EQ(ds->size(), 2u);
    ASSERT_EQ(ds->num_classes(), 100u);
    EXPECT_EQ(ds->info().class_names[99], "fine99");
    // No coarse_label_names.txt: the 20 standard names.
    ASSERT_EQ(ds->info().coarse_names.size(), 20u);
    EXPECT_EQ(ds->info().coarse_names[0], "aquatic_mammals");
    EXPECT_EQ(ds->info().coarse_names[19], "vehicles_2");
    // Standard mapping: apple(0) -> fruit_and_vegetables(4), worm(99) -> non-insect_invertebrates(13),
    // lawn_mower(41) -> vehicles_2(19).
    ASSERT_EQ(ds->info().fine_to_coarse.size(), 100u);
    EXPECT_EQ(ds->info().fine_to_coarse[0], 4);
    EXPECT_EQ(ds->info().fine_to_coarse[41], 19);
    EXPECT_EQ(ds->info().fine_to_coarse[99], 13);
    EXPECT_FLOAT_EQ(ds->info().preset.norm.mean[1], 0.4865f);
    Sample s = ds->get(1);
    EXPECT_EQ(s.label, 99);
    EXPECT_EQ(s.coarse, 13);
    expect_planes(s.image, 1);

    auto train = open_dataset(d.str(), {"train", ""});
    ASSERT_EQ(train->size(), 1u);
    EXPECT_EQ(train->get(0).label, 41);
    EXPECT_EQ(train->get(0).coarse, 19);
    expect_planes(train->get(0).image, 2);
}

TEST(Cifar100, CoarseOutOfRangeAndCoarseNamesFile) {
    TempDir d;
    write_file(d / "test.bin", concat({cifar_record({0, 0}, 0), cifar_record({20, 5}, 1)}));
    std::string coarse;
    for (int i = 0; i < 20; ++i) coarse += "super" + std::to_string(i) + "\n";
    write_text(d / "coarse_label_names.txt", coarse);
    auto ds = open_dataset(d / "test.bin");  // a single file, names beside it
    EXPECT_EQ(ds->info().format, "cifar100");
    EXPECT_EQ(ds->info().coarse_names[7], "super7");
    EXPECT_EQ(ds->info().class_names[5], "class_5");
    std::string msg = error_of([&] { ds->get(1); });
    EXPECT_HAS(msg, "test.bin: record 1 (byte offset 3074)");
    EXPECT_HAS(msg, "coarse label 20");
}

// ------------------------------------------------------------------------------ IDX

TEST(Idx, ReadsPlainFiles) {
    TempDir d;
    // Three 2×3 images: image i has pixel (y,x) = 10·i + 3·y + x.
    Bytes px;
    for (int i = 0; i < 3; ++i)
        for (int p = 0; p < 6; ++p) px.push_back(static_cast<std::uint8_t>(10 * i + p));
    write_file(d / "digits/t10k-images-idx3-ubyte", idx_images(3, 2, 3, px));
    write_file(d / "digits/t10k-labels-idx1-ubyte", idx_labels({7, 0, 9}));
    auto ds = open_dataset(d / "digits");
    EXPECT_EQ(ds->info().format, "idx");
    EXPECT_EQ(ds->info().name, "mnist");
    ASSERT_EQ(ds->size(), 3u);
    EXPECT_EQ(ds->info().class_names[7], "7");
    EXPECT_EQ(ds->info().preset.channels, 1);
    EXPECT_EQ(ds->info().preset.height, 2);
    EXPECT_EQ(ds->info().preset.width, 3);
    EXPECT_FLOAT_EQ(ds->info().preset.norm.mean[0], 0.1307f);
    Sample s = ds->get(2);
    EXPECT_EQ(s.label, 9);
    EXPECT_EQ(s.image.width, 3);
    EXPECT_EQ(s.image.height, 2);
    EXPECT_EQ(s.image.at(1, 2, 0), 25);  // 10·2 + 3·1 + 2
    EXPECT_EQ(s.image.at(0, 1, 0), 21);
    EXPECT_EQ(ds->get(0).label, 7);
    // No train files: asking for them says what was looked for.
    std::string msg = error_of([&] { open_dataset(d / "digits", {"train", "idx"}); });
    EXPECT_HAS(msg, "train");
}

TEST(Idx, ReadsGzipAndNamesFashion) {
    TempDir d;
    Bytes px(2 * 4, 0);
    px[5] = 200;  // image 1, (0,1) of 2×2
    write_gz(d / "my-fashion/train-images-idx3-ubyte.gz", idx_images(2, 2, 2, px));
    write_gz(d / "my-fashion/train-labels-idx1-ubyte.gz", idx_labels({9, 3}));
    auto ds = open_dataset(d / "my-fashion", {"train", ""});
    EXPECT_EQ(ds->info().name, "fashion-mnist");
    EXPECT_EQ(ds->info().class_names[9], "Ankle boot");
    EXPECT_FLOAT_EQ(ds->info().preset.norm.std[0], 0.3530f);
    ASSERT_EQ(ds->size(), 2u);
    EXPECT_EQ(ds->get(1).label, 3);
    EXPECT_EQ(ds->get(1).image.at(0, 1, 0), 200);
    EXPECT_EQ(ds->get(0).image.at(0, 1, 0), 0);
}

TEST(Idx, HeaderErrors) {
    TempDir d;
    const Bytes px(3 * 4, 1);
    // Wrong magic (0x801 labels magic on an images file).
    write_file(d / "a/t10k-images-idx3-ubyte", idx_images(3, 2, 2, px, 0x801));
    write_file(d / "a/t10k-labels-idx1-ubyte", idx_labels({1, 2, 3}));
    std::string msg = error_of([&] { open_dataset(d / "a"); });
    EXPECT_HAS(msg, "t10k-images-idx3-ubyte");
    EXPECT_HAS(msg, "bad magic 0x00000801");

    // Header claims 4 images of 2×2 but only 3 are present: 16 + 16 expected vs 16 + 12 found.
    write_file(d / "b/t10k-images-idx3-ubyte", idx_images(4, 2, 2, px));
    write_file(d / "b/t10k-labels-idx1-ubyte", idx_labels({1, 2, 3, 4}));
    msg = error_of([&] { open_dataset(d / "b"); });
    EXPECT_HAS(msg, "t10k-images-idx3-ubyte");
    EXPECT_HAS(msg, "expected 32 bytes, found 28");

    // Counts disagree.
    write_file(d / "c/t10k-images-idx3-ubyte", idx_images(3, 2, 2, px));
    write_file(d / "c/t10k-labels-idx1-ubyte", idx_labels({1, 2}));
    msg = error_of([&] { open_dataset(d / "c"); });
    EXPECT_HAS(msg, "2 labels");
    EXPECT_HAS(msg, "3 images");

    // A gzip stream cut short.
    write_gz(d / "f/t10k-images-idx3-ubyte.gz", idx_images(3, 2, 2, px));
    write_gz(d / "f/t10k-labels-idx1-ubyte.gz", idx_labels({1, 2, 3}));
    fs::resize_file(d / "f/t10k-images-idx3-ubyte.gz", fs::file_size(d / "f/t10k-images-idx3-ubyte.gz") - 12);
    msg = error_of([&] { open_dataset(d / "f"); });
    EXPECT_HAS(msg, "t10k-images-idx3-ubyte.gz");

    // Label out of range is reported at get() with record and offset.
    write_file(d / "e/t10k-images-idx3-ubyte", idx_images(3, 2, 2, px));
    write_file(d / "e/t10k-labels-idx1-ubyte", idx_labels({1, 12, 3}));
    auto ds = open_dataset(d / "e");
    msg = error_of([&] { ds->get(1); });
    EXPECT_HAS(msg, "t10k-labels-idx1-ubyte: record 1 (byte offset 9)");
}

TEST(Idx, RealFashionMnistTestSplit) {
    const std::string dir = "/usr/share/datasets/fashion-mnist";
    if (!fs::exists(dir + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << dir << " not installed";
    auto ds = open_dataset(dir);
    EXPECT_EQ(ds->info().name, "fashion-mnist");
    ASSERT_EQ(ds->size(), 10000u);
    // Facts read independently with python3's gzip module from the same files.
    const int first_labels[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    for (int i = 0; i < 10; ++i) EXPECT_EQ(ds->get(i).label, first_labels[i]) << i;
    EXPECT_EQ(ds->get(9999).label, 5);
    Image img0 = ds->get(0).image;
    ASSERT_EQ(img0.width, 28);
    long sum = 0;
    for (auto p : img0.pixels) sum += p;
    EXPECT_EQ(sum, 33456);
    EXPECT_EQ(img0.at(14, 14, 0), 110);
    long sum1 = 0;
    for (auto p : ds->get(1).image.pixels) sum1 += p;
    EXPECT_EQ(sum1, 100994);
}

// ------------------------------------------------------------------------------ image folders

TEST(Folder, ClassesFilesAndStrayFiles) {
    TempDir d;
    const std::string root = d / "pets";
    Image a{3, 2, 3, Bytes(18, 10)}, b{3, 2, 3, Bytes(18, 20)}, c{5, 4, 1, Bytes(20, 30)};
    write_png(root + "/cat/b.png", b);
    write_png(root + "/cat/a.PNG", a);  // extensions are case-insensitive
    write_file(root + "/dog/x.JPEG", encode_png(c));  // stb decodes by content
    write_text(root + "/dog/readme.txt", "not an image");  // ignored
    write_text(root + "/notes.md", "top-level file, not a class");
    auto ds = open_dataset(root);
    EXPECT_EQ(ds->info().format, "folder");
    EXPECT_EQ(ds->info().name, "pets");
    ASSERT_EQ(ds->info().class_names, (std::vector<std::string>{"cat", "dog"}));
    ASSERT_EQ(ds->size(), 3u);
    // Preset from the first file (cat/a.PNG), read from its header only.
    EXPECT_EQ(ds->info().preset.width, 3);
    EXPECT_EQ(ds->info().preset.height, 2);
    EXPECT_EQ(ds->info().preset.channels, 3);
    EXPECT_EQ(ds->get(0).label, 0);
    EXPECT_EQ(ds->get(0).image.at(0, 0, 0), 10);  // a.PNG sorts before b.png
    EXPECT_EQ(ds->get(1).image.at(1, 2, 2), 20);
    Sample dog = ds->get(2);
    EXPECT_EQ(dog.label, 1);
    EXPECT_EQ(dog.image.channels, 1);
    EXPECT_EQ(dog.image.at(3, 4, 0), 30);
}

TEST(Folder, CorruptImageNamesItAndSplitsAndEmpty) {
    TempDir d;
    const std::string root = d / "set";
    write_png(root + "/test/ok/1.png", Image{2, 2, 1, Bytes(4, 5)});
    write_text(root + "/test/ok/2.png", "definitely not a png");
    write_png(root + "/train/ok/1.png", Image{2, 2, 1, Bytes(4, 6)});
    write_png(root + "/train/other/1.png", Image{2, 2, 1, Bytes(4, 7)});
    auto test = open_dataset(root);
    ASSERT_EQ(test->size(), 2u);
    EXPECT_EQ(test->get(0).image.at(0, 0, 0), 5);
    std::string msg = error_of([&] { test->get(1); });
    EXPECT_HAS(msg, "ok/2.png");
    auto train = open_dataset(root, {"train", ""});
    EXPECT_EQ(train->num_classes(), 2u);
    EXPECT_EQ(train->get(1).image.at(0, 0, 0), 7);

    fs::create_directories(d / "empty/cls");
    msg = error_of([&] { open_dataset(d / "empty", {"test", "folder"}); });
    EXPECT_HAS(msg, "empty");
    EXPECT_HAS(msg, "no .png");
}

// ------------------------------------------------------------------------------ open_dataset

TEST(OpenDataset, UsageAndNothingMatches) {
    TempDir d;
    write_text(d / "junk/readme.txt", "hello");
    EXPECT_THROW(open_dataset(d / "junk", {"val", ""}), UsageError);
    EXPECT_THROW(open_dataset(d / "junk", {"test", "tfrecord"}), UsageError);
    std::string msg = error_of([&] { open_dataset(d / "junk"); });
    EXPECT_HAS(msg, "junk");
    EXPECT_HAS(msg, "cifar10");
    EXPECT_HAS(msg, "test_batch.bin");
    EXPECT_HAS(msg, "idx3");
    EXPECT_HAS(msg, "class sub-folders");
    msg = error_of([&] { open_dataset(d / "missing"); });
    EXPECT_HAS(msg, "missing");

    // An explicit format is obeyed, not detected.
    write_file(d / "c10/test_batch.bin", cifar_record({1}, 0));
    msg = error_of([&] { open_dataset(d / "c10", {"test", "idx"}); });
    EXPECT_HAS(msg, "IDX");
}

TEST(OpenDataset, NormalizationPresets) {
    auto m = normalization_preset("mnist");
    ASSERT_TRUE(m);
    EXPECT_FLOAT_EQ(m->mean[0], 0.1307f);
    EXPECT_FLOAT_EQ(m->std[0], 0.3081f);
    auto f = normalization_preset("fashion-mnist");
    ASSERT_TRUE(f);
    EXPECT_FLOAT_EQ(f->mean[0], 0.2860f);
    auto in = normalization_preset("imagenet");
    ASSERT_TRUE(in);
    EXPECT_EQ(in->mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
    EXPECT_EQ(in->std, (std::vector<float>{0.229f, 0.224f, 0.225f}));
    auto c100 = normalization_preset("cifar100");
    ASSERT_TRUE(c100);
    EXPECT_FLOAT_EQ(c100->std[0], 0.2673f);
    EXPECT_FALSE(normalization_preset("svhn"));
    EXPECT_EQ(fashion_mnist_classes().size(), 10u);
    EXPECT_EQ(fashion_mnist_classes()[0], "T-shirt/top");
}

// ------------------------------------------------------------------------------ to_input

TEST(ToInput, NormalisesPerChannelInCHW) {
    // RGB (255, 0, 51), 1×1, CIFAR-10 statistics:
    // (1 - 0.4914)/0.2470 = 2.05911, (0 - 0.4822)/0.2435 = -1.98029, (0.2 - 0.4465)/0.2616 = -0.94228.
    Image img{1, 1, 3, {255, 0, 51}};
    InputSpec spec{3, 1, 1, *normalization_preset("cifar10")};
    float out[3];
    to_input(img, spec, out);
    EXPECT_NEAR(out[0], 2.05911f, 1e-4);
    EXPECT_NEAR(out[1], -1.98029f, 1e-4);
    EXPECT_NEAR(out[2], -0.94228f, 1e-4);
}

TEST(ToInput, ConvertsChannelsAndResizes) {
    // Grey 1×2 [0, 255] -> 3×1×4 with no normalisation: resize gives [0, 64, 191, 255] (see the
    // resize tests), replicated into each channel plane, scaled by 1/255.
    Image grey{2, 1, 1, {0, 255}};
    InputSpec spec{3, 1, 4, {}};
    float out[12];
    to_input(grey, spec, out);
    const float row[4] = {0.0f, 64 / 255.0f, 191 / 255.0f, 1.0f};
    for (int c = 0; c < 3; ++c)
        for (int x = 0; x < 4; ++x) EXPECT_NEAR(out[c * 4 + x], row[x], 1e-6) << c << "," << x;

    // RGB -> grey (BT.601 luma of (10,20,30) = 18), MNIST statistics: (18/255 - 0.1307)/0.3081.
    Image rgb{1, 1, 3, {10, 20, 30}};
    InputSpec mn{1, 1, 1, *normalization_preset("mnist")};
    float g;
    to_input(rgb, mn, &g);
    EXPECT_NEAR(g, (18 / 255.0f - 0.1307f) / 0.3081f, 1e-5);

    InputSpec bad{3, 1, 1, {{0.5f, 0.5f}, {1.0f, 1.0f}}};  // 2 means for 3 channels
    EXPECT_THROW(to_input(rgb, bad, out), Error);
}

// Reliability cases of issue 11 that need more than "exit code + message" (tests/malformed covers
// those): runs that must succeed and be right (class folders mapped to the model's class names
// by name, a torchvision-style scripted model), files that must not be read or written, notes.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "camscope/util/npy.hpp"
#include "camscope/util/strings.hpp"
#include "cli_helpers.hpp"
#include "support/fixtures.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;

namespace {

const nlohmann::json& extra_manifest() { return fixture_manifest("extra_manifest.json"); }

struct RunUsage {
    int code = -1;
    std::string out;
    long max_rss_kb = 0;  // the child's peak resident set
};

/// Runs `camscope -q ARGS` as a child and reports its own peak RSS (wait4), not that of other
/// children of this test process.
RunUsage run_measured(const std::vector<std::string>& args) {
    const fs::path log = fs::temp_directory_path() / ("camscope_rel_out_" + std::to_string(::getpid()));
    RunUsage r;
    const pid_t pid = fork();
    if (pid == 0) {
        FILE* f = std::fopen(log.c_str(), "w");
        if (f) {
            dup2(fileno(f), 1);
            dup2(fileno(f), 2);
        }
        std::vector<char*> argv{const_cast<char*>(kBin.c_str()), const_cast<char*>("-q")};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(kBin.c_str(), argv.data());
        _exit(127);
    }
    int status = 0;
    struct rusage ru {};
    wait4(pid, &status, 0, &ru);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.max_rss_kb = ru.ru_maxrss;
    r.out = slurp(log);
    fs::remove(log);
    return r;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

/// Pixel (i, p) of the test images: a bright square whose place depends on the label (i % 10),
/// over a faint texture, so a model can learn something from a few images.
unsigned char pixel(int i, int p) {
    const int y = p / 28, x = p % 28, c = i % 10;
    const bool square = y / 7 == c / 4 && x / 7 == c % 4;
    return static_cast<unsigned char>(square ? 200 + (i * 7 + p) % 50 : (p * 13 + i * 29) % 40);
}

/// An IDX split (PREFIX-images/labels) of n 28x28 grey images with labels i % 10.
void write_idx(const fs::path& dir, int n, const std::string& prefix = "t10k") {
    std::string img = be32(0x803) + be32(n) + be32(28) + be32(28), lab = be32(0x801) + be32(n);
    for (int i = 0; i < n; ++i)
        for (int p = 0; p < 28 * 28; ++p) img += static_cast<char>(pixel(i, p));
    for (int i = 0; i < n; ++i) lab += static_cast<char>(i % 10);
    write_bytes(dir / (prefix + "-images-idx3-ubyte"), img);
    write_bytes(dir / (prefix + "-labels-idx1-ubyte"), lab);
}

/// 8-bit grey PNG (stored deflate blocks: no zlib needed here).
std::string grey_png(int i) {
    auto crc32 = [](const std::string& s) {
        std::uint32_t c = 0xFFFFFFFFu;
        for (unsigned char b : s) {
            c ^= b;
            for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        }
        return c ^ 0xFFFFFFFFu;
    };
    auto chunk = [&](const std::string& kind, const std::string& data) {
        return be32(static_cast<std::uint32_t>(data.size())) + kind + data + be32(crc32(kind + data));
    };
    std::string raw;
    for (int y = 0; y < 28; ++y) {
        raw += '\0';
        for (int x = 0; x < 28; ++x) raw += static_cast<char>(pixel(i, y * 28 + x));
    }
    std::uint32_t a = 1, b = 0;  // adler32
    for (unsigned char ch : raw) {
        a = (a + ch) % 65521;
        b = (b + a) % 65521;
    }
    const auto len = static_cast<std::uint16_t>(raw.size());
    std::string z = "\x78\x01";
    z += '\x01';  // final stored block
    z += static_cast<char>(len & 0xFF);
    z += static_cast<char>(len >> 8);
    z += static_cast<char>(~len & 0xFF);
    z += static_cast<char>((~len >> 8) & 0xFF);
    z += raw + be32((b << 16) | a);
    const std::string ihdr = be32(28) + be32(28) + std::string("\x08\x00\x00\x00\x00", 5);
    return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", "");
}

std::vector<fs::path> files_under(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir));
    return out;
}

}  // namespace

// Issue 11, item 5: class folders named like the model's classes but in another (alphabetical)
// order. Positional scoring gave 6.7 % for a 93 % model; the labels must be mapped by name and
// the user told so. Reference labels and predictions: make_extra_fixtures.py (torch, eager model).
TEST(Reliability, ClassFoldersInAnotherOrderAreMappedByName) {
    const auto& ref = extra_manifest()["reordered_folder"];
    const std::string model = kDir + "/" + ref["model_file"].get<std::string>();
    const std::string data = kDir + "/" + ref["dir"].get<std::string>();
    const auto dir = tmpdir("reordered");
    fs::create_directories(dir);
    auto r = run("predict -m " + model + " -d " + data + " -o " + (dir / "p.csv").string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("has the model's class names in another order"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("mapped to the model's classes by name"), std::string::npos) << r.out;
    const auto rows = read_csv(dir / "p.csv");
    const auto& labels = ref["labels"];
    const auto& preds = ref["preds"];
    const auto& names = ref["model_class_names"];
    ASSERT_EQ(rows.size(), labels.size() + 1);
    for (size_t i = 0; i < labels.size(); ++i) {
        SCOPED_TRACE(ref["files"][i].get<std::string>());
        EXPECT_EQ(std::stoi(rows[i + 1][1]), labels[i].get<int>());                 // label, model's order
        EXPECT_EQ(rows[i + 1][2], names[labels[i].get<int>()].get<std::string>());  // label_name
        EXPECT_EQ(std::stoi(rows[i + 1][3]), preds[i].get<int>());                  // pred
    }
    EXPECT_NE(r.out.find(format("top-1 accuracy %.2f%%", 100 * ref["accuracy"].get<double>())), std::string::npos)
        << r.out;
    EXPECT_GT(ref["accuracy"].get<double>(), ref["positional_accuracy"].get<double>() + 0.5);

    // cam -t true: the target of each image is its label in the model's order.
    r = run("-q cam -m " + model + " -d " + data + " -i 0-5 -t true -o " + (dir / "cams").string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto cams = read_csv(dir / "cams" / "cams.csv");
    ASSERT_EQ(cams.size(), 7u);
    for (size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(std::stoi(cams[i + 1][2]), labels[i].get<int>());
        EXPECT_EQ(std::stoi(cams[i + 1][5]), labels[i].get<int>());
    }
    fs::remove_all(dir);
}

// Issue 11, item 5, with names a folder cannot spell: a model trained on Fashion-MNIST names
// class 0 "T-shirt/top"; the class folders of an image-folder copy say "T-shirt_top" and sort
// in another order. Names are compared as file names: mapped by name, and every image gets the
// label and the prediction it gets from the IDX copy (read by position, as IDX has no names).
TEST(Reliability, FolderNamesMatchModelNamesThatHoldSlashes) {
    const auto dir = tmpdir("fashion_names");
    write_idx(dir / "fashion-tiny", 40, "train");
    write_idx(dir / "fashion-tiny", 20);
    const std::vector<std::string> folders = {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    for (int i = 0; i < 20; ++i)
        write_bytes(dir / "folder" / folders[i % 10] / format("%02d.png", i), grey_png(i));
    const std::string model = (dir / "m.pt").string();
    auto r = run("-q train --data " + (dir / "fashion-tiny").string() + " --arch cnn --epochs 2 --no-test -o " + model);
    ASSERT_EQ(r.code, 0) << r.out;
    r = run("-q predict -m " + model + " -d " + (dir / "fashion-tiny").string() + " -o " + (dir / "idx.csv").string());
    ASSERT_EQ(r.code, 0) << r.out;
    r = run("predict -m " + model + " -d " + (dir / "folder").string() + " -o " + (dir / "folder.csv").string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("T-shirt_top 8->0"), std::string::npos) << r.out;  // "Ankle boot" sorts first
    const auto idx = read_csv(dir / "idx.csv"), folder = read_csv(dir / "folder.csv");
    ASSERT_EQ(idx.size(), 21u);
    ASSERT_EQ(folder.size(), 21u);
    // Folder order: class folders sorted by name, then files; the file name is the IDX index.
    std::vector<std::pair<std::string, int>> order;
    for (int i = 0; i < 20; ++i) order.emplace_back(folders[i % 10] + format("/%02d", i), i);
    std::sort(order.begin(), order.end());
    for (size_t row = 0; row < order.size(); ++row) {
        SCOPED_TRACE(order[row].first);
        const auto& a = idx[order[row].second + 1];
        const auto& b = folder[row + 1];
        EXPECT_EQ(b[1], a[1]);  // label, in the model's (Fashion-MNIST) order
        EXPECT_EQ(b[2], a[2]);  // label name: the model's spelling, "T-shirt/top"
        EXPECT_EQ(b[3], a[3]);  // prediction
    }
    fs::remove_all(dir);
}

// Issue 11, item 13: torchvision's ResNet.forward only calls self._forward_impl(x); scripted, that
// is a method call on the model, not a submodule's forward. Its layers must be listed and give
// the same CAMs as the same weights in a plain forward (resnet_scripted.pt, checked against the
// Python reference by the engine tests; tests/unit/engine/test_forward_impl.cpp compares with
// the reference directly).
TEST(Reliability, ScriptedForwardImplModelHasLayersAndCams) {
    const std::string fi = kDir + "/" + extra_manifest()["forward_impl"]["model_file"].get<std::string>();
    auto r = run("-q layers " + fi + " --data " + kDir + "/tiny_cifar10");
    ASSERT_EQ(r.code, 0) << r.out;
    bool conv = false, auto_layer = false;
    for (const auto& line : split(r.out, '\n')) {
        conv = conv || (starts_with(line, "layer2.1.conv2 ") && line.find("1x16x16x16") != std::string::npos);
        auto_layer = auto_layer || (starts_with(line, "layer3 ") && line.find("<- automatic") != std::string::npos);
    }
    EXPECT_TRUE(conv) << r.out;
    EXPECT_TRUE(auto_layer) << r.out;

    const auto dir = tmpdir("forward_impl");
    for (const char* method : {"gradcam", "ablationcam"}) {
        SCOPED_TRACE(method);
        std::vector<std::vector<float>> maps;
        for (const std::string& m : {fi, kDir + "/resnet_scripted.pt"}) {
            const auto out = dir / fs::path(m).stem();
            r = run("-q cam -m " + m + " -d " + kDir + "/tiny_cifar10 --norm cifar10 -i 0-3 --layer layer2.1.conv2 " +
                    "--raw --method " + method + " -o " + out.string());
            ASSERT_EQ(r.code, 0) << r.out;
            maps.push_back(read_npy((out / "cams.npy").string()).as_float());
        }
        ASSERT_EQ(maps[0].size(), 4u * 32 * 32);
        ASSERT_EQ(maps[0].size(), maps[1].size());
        double diff = 0, scale = 0;
        for (size_t i = 0; i < maps[0].size(); ++i) {
            diff = std::max(diff, double(std::abs(maps[0][i] - maps[1][i])));
            scale = std::max(scale, double(std::abs(maps[1][i])));
        }
        EXPECT_GT(scale, 0);
        EXPECT_LT(diff, 1e-4 * std::max(1.0, scale));
    }
    fs::remove_all(dir);
}

// Issue 11, item 14: a 3 GiB sparse file named .png was read whole (39 s, 4.4 GB) before being
// refused as too large. Its size is checked with stat() first: the run's peak memory stays that of
// an ordinary run over the same folder without it (compared, not a fixed figure: sanitizer builds
// use more). Once as the first image (whose header sets the input size), once later.
TEST(Reliability, HugeImageFileIsRefusedWithoutReadingIt) {
    for (const bool first : {true, false}) {
        SCOPED_TRACE(first ? "first image" : "a later image");
        const auto dir = tmpdir(first ? "huge_first" : "huge_later");
        const std::string ok = slurp(kDir + "/tiny_cifar10_folder/airplane/" +
                                     files_under(kDir + "/tiny_cifar10_folder/airplane").front().filename().string());
        for (const char* c : {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"})
            write_bytes(dir / "data" / c / "5_ok.png", ok);
        const std::vector<std::string> args{"predict", "-m", kDir + "/tiny_cifar10_model.pt", "-d",
                                            (dir / "data").string(), "--norm", "cifar10", "-o", (dir / "p.csv").string()};
        const auto ordinary = run_measured(args);
        ASSERT_EQ(ordinary.code, 0) << ordinary.out;
        fs::remove(dir / "p.csv");
        const fs::path huge = dir / "data" / "airplane" / (first ? "0_huge.png" : "9_huge.png");
        { std::ofstream(huge, std::ios::binary) << "\x89PNG\r\n\x1a\n"; }
        fs::resize_file(huge, 3ull << 30);  // sparse: no disk space, 3 GiB to read
        const auto r = run_measured(args);
        EXPECT_EQ(r.code, 1) << r.out;
        EXPECT_NE(r.out.find(huge.filename().string()), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("3221225472 bytes, more than the 536870912 an image may have"), std::string::npos) << r.out;
        EXPECT_LT(r.max_rss_kb, ordinary.max_rss_kb + (512L << 10))
            << "peak RSS " << r.max_rss_kb << " KiB, " << ordinary.max_rss_kb << " KiB without the file: it was read";
        EXPECT_FALSE(fs::exists(dir / "p.csv"));
        fs::remove_all(dir);
    }
}

// Issue 11, item 15: the -t text and class names (here from a CIFAR names file) become part of
// the overlay file names; "T-shirt/top" made a sub-folder and "../../escape" a file outside --out.
TEST(Reliability, CamFileNamesStayInsideOut) {
    const auto dir = tmpdir("cam_names");
    // Fashion-MNIST (IDX under a path naming it): class 0 is "T-shirt/top".
    write_idx(dir / "fashion-tiny", 3);
    auto r = run("-q cam -m " + kDir + "/cnn_traced.pt -d " + (dir / "fashion-tiny").string() +
                 " -i 0 -t T-shirt/top -o " + (dir / "out1").string());
    ASSERT_EQ(r.code, 0) << r.out;
    std::vector<fs::path> files = files_under(dir / "out1");
    std::sort(files.begin(), files.end());
    ASSERT_EQ(files.size(), 3u);
    EXPECT_EQ(files[0], fs::path("cam_0_T-shirt_top_T-shirt_top.png"));
    EXPECT_EQ(files[1], fs::path("cams.csv"));
    EXPECT_EQ(files[2], fs::path("cams.npy"));
    // A CIFAR-10 copy whose batches.meta.txt calls class 3 "../../escape".
    fs::create_directories(dir / "cifar");
    fs::copy_file(kDir + "/tiny_cifar10/test_batch.bin", dir / "cifar" / "test_batch.bin");
    write_bytes(dir / "cifar" / "batches.meta.txt", "airplane\nautomobile\nbird\n../../escape\ndeer\ndog\nfrog\nhorse\nship\ntruck\n");
    const fs::path out = dir / "a" / "b" / "out2";
    r = run("-q cam -m " + kDir + "/tiny_cifar10_model.pt -d " + (dir / "cifar").string() +
            " -i 0 -t ../../escape -t true -o " + out.string());
    ASSERT_EQ(r.code, 0) << r.out;
    for (const auto& f : files_under(dir)) {
        const std::string s = f.string();
        if (s.find("cam_") == std::string::npos || starts_with(s, "out1/")) continue;
        EXPECT_EQ(f.parent_path(), fs::relative(out, dir)) << s;
    }
    EXPECT_TRUE(fs::exists(out / "cam_0_______escape_______escape.png"));
    fs::remove_all(dir);
}

// Issue 11, item 16: 512 threads on a small machine ran for minutes; they are capped at the core
// count, and the user is told.
TEST(Reliability, ThreadsAreCappedAtTheCoreCountWithANote) {
    const auto dir = tmpdir("threads");
    fs::create_directories(dir);
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    ASSERT_LT(cores, 512);
    auto r = run("predict -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 --limit 8 --threads 512 -o " +
                 (dir / "p.csv").string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(format("note: --threads 512 is more than the %ld cores of this machine; using %ld", cores,
                                cores)),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(format("%ld CPU threads", cores)), std::string::npos) << r.out;
    fs::remove_all(dir);
}

// Issue 11, item 17: --device cuda on a CPU-only LibTorch said "not a TorchScript model".
TEST(Reliability, CudaDeviceWithoutCudaIsOneClearLine) {
    const auto dir = tmpdir("cuda");
    fs::create_directories(dir);
    const auto r = run("-q predict -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 --limit 4 --device cuda -o " +
                       (dir / "p.csv").string());
    fs::remove_all(dir);
    if (r.code == 0) GTEST_SKIP() << "this LibTorch runs on CUDA";
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_EQ(r.out, "camscope: device 'cuda': this LibTorch has no CUDA support or sees no GPU; use --device cpu\n");
}

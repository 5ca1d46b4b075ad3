// Unit tests for camscope/util: atomic writes, .npy I/O, progress output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/npy.hpp"
#include "camscope/util/progress.hpp"
#include "support/errors.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using support::error_of;
using support::slurp;
using support::TempDir;

namespace {

std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

// ------------------------------------------------------------------------------ atomic_file

TEST(AtomicFile, WritesReplacesAndLeavesNoTemp) {
    TempDir dir;
    const std::string path = dir / "sub/deeper/out.txt";  // parents are created
    write_file_atomic(path, std::string_view("first version, longer"));
    EXPECT_EQ(slurp(path), "first version, longer");
    write_file_atomic(path, std::vector<std::uint8_t>{'n', 'e', 'w'});
    EXPECT_EQ(slurp(path), "new");  // replaced, not overwritten in place
    EXPECT_EQ(listing(fs::path(dir / "sub/deeper")), std::vector<std::string>{"out.txt"});
    auto back = read_file(path);
    EXPECT_EQ(std::string(back.begin(), back.end()), "new");
}

TEST(AtomicFile, FailedRenameNamesPathAndRemovesTemp) {
    TempDir dir;
    const std::string target = dir / "is_a_dir";
    fs::create_directories(fs::path(target) / "child");  // rename(file, non-empty dir) fails
    std::string msg = error_of([&] { write_file_atomic(target, std::string_view("x")); });
    EXPECT_NE(msg.find(target), std::string::npos) << msg;
    EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"is_a_dir"});
}

TEST(AtomicFile, ReadMissingFileNamesIt) {
    TempDir dir;
    std::string msg = error_of([&] { read_file(dir / "nope.bin"); });
    EXPECT_NE(msg.find("nope.bin"), std::string::npos) << msg;
}

TEST(AtomicFile, MakeDirsOverAFileFails) {
    TempDir dir;
    write_bytes(dir / "plain", "x");
    std::string msg = error_of([&] { make_dirs(dir / "plain"); });
    EXPECT_NE(msg.find("plain"), std::string::npos) << msg;
}

TEST(BackgroundWriter, WritesEveryFileFromManyThreadsWithinItsBound) {
    TempDir dir;
    {
        // A bound of 1 KiB against 400 files of up to 300 bytes from 4 threads: callers wait for
        // room; one file over the bound still goes (alone).
        BackgroundWriter w(1024);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (int i = t; i < 400; i += 4)
                    w.write(dir / ("img/" + std::to_string(i) + ".bin"),
                            std::vector<std::uint8_t>(static_cast<size_t>(i % 300), static_cast<std::uint8_t>(i)));
            });
        for (auto& th : threads) th.join();
        w.write(dir / "big.bin", std::vector<std::uint8_t>(5000, 7));
        w.finish();
    }
    for (int i = 0; i < 400; ++i)
        ASSERT_EQ(slurp(dir / ("img/" + std::to_string(i) + ".bin")),
                  std::string(static_cast<size_t>(i % 300), static_cast<char>(i))) << i;
    EXPECT_EQ(slurp(dir / "big.bin"), std::string(5000, 7));
    EXPECT_EQ(listing(fs::path(dir / "img")).size(), 400u);  // no temporary names left
}

TEST(BackgroundWriter, TheFirstFailureReachesTheCallerNamingThePath) {
    TempDir dir;
    write_bytes(dir / "plain", "x");  // a file where a folder is needed
    BackgroundWriter w;
    w.write(dir / "ok.txt", {'o', 'k'});
    w.write(dir / "plain/inside.txt", {'n', 'o'});
    const std::string msg = error_of([&] {
        for (int i = 0; i < 1000; ++i) w.write(dir / ("after" + std::to_string(i) + ".txt"), {'x'});
        w.finish();
    });
    EXPECT_NE(msg.find("plain"), std::string::npos) << msg;
    EXPECT_EQ(slurp(dir / "ok.txt"), "ok");
    EXPECT_FALSE(fs::exists(dir / "after999.txt"));  // nothing after the failure is written
    EXPECT_THROW(w.finish(), Error);  // and it stays failed
}

// ------------------------------------------------------------------------------ npy

namespace {
// The exact bytes numpy >= 1.24 writes for np.save(f, np.array([[1,2,3],[4,5,6]], dtype='<i8')):
// header dict, 20 "growth" spaces + 38 alignment spaces, '\n'; header length 118 so data starts at 128.
std::string numpy_i8_2x3() {
    std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }";
    std::string header = dict + std::string(58, ' ') + "\n";
    std::string out = std::string("\x93NUMPY\x01\x00", 8) + std::string("\x76\x00", 2) + header;
    for (std::int64_t v : {1, 2, 3, 4, 5, 6}) out.append(reinterpret_cast<const char*>(&v), 8);
    return out;
}
}  // namespace

TEST(Npy, ReadsBytesNumpyWrites) {
    TempDir dir;
    const std::string bytes = numpy_i8_2x3();
    ASSERT_EQ(bytes.size(), 128u + 48u);
    write_bytes(dir / "a.npy", bytes);
    NpyArray a = read_npy(dir / "a.npy");
    EXPECT_EQ(a.dtype, "<i8");
    EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
    EXPECT_EQ(a.count(), 6);
    EXPECT_EQ(a.as_int(), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(a.as_float(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, ReadsVersion2AndOtherDtypes) {
    TempDir dir;
    // Version 2.0: 4-byte header length. float64 [0.5, -2, 1e10].
    std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    std::string header = dict + std::string(128 - 12 - dict.size() - 1, ' ') + "\n";
    std::string bytes = std::string("\x93NUMPY\x02\x00", 8);
    std::uint32_t hl = static_cast<std::uint32_t>(header.size());
    bytes.append(reinterpret_cast<const char*>(&hl), 4);
    bytes += header;
    for (double v : {0.5, -2.0, 1e10}) bytes.append(reinterpret_cast<const char*>(&v), 8);
    write_bytes(dir / "f8.npy", bytes);
    NpyArray a = read_npy(dir / "f8.npy");
    EXPECT_EQ(a.dtype, "<f8");
    EXPECT_EQ(a.as_float(), (std::vector<float>{0.5f, -2.0f, 1e10f}));
    EXPECT_THROW(a.as_int(), Error);

    // bool 2×2 with a version 1.0 header.
    std::string bdict = "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }";
    std::string bheader = bdict + std::string(128 - 10 - bdict.size() - 1, ' ') + "\n";
    std::string b = std::string("\x93NUMPY\x01\x00", 8);
    b.push_back(static_cast<char>(bheader.size()));
    b.push_back(0);
    b += bheader + std::string("\x01\x00\x00\x01", 4);
    write_bytes(dir / "b1.npy", b);
    EXPECT_EQ(read_npy(dir / "b1.npy").as_int(), (std::vector<std::int64_t>{1, 0, 0, 1}));
}

TEST(Npy, RoundTripFloat32) {
    TempDir dir;
    const float data[6] = {0.f, -1.5f, 3.25f, 1e-7f, 42.f, -0.f};
    write_npy(dir / "m.npy", data, {1, 2, 3});
    NpyArray a = read_npy(dir / "m.npy");
    EXPECT_EQ(a.dtype, "<f4");
    EXPECT_EQ(a.shape, (std::vector<std::int64_t>{1, 2, 3}));
    ASSERT_EQ(a.bytes.size(), 24u);
    EXPECT_EQ(std::memcmp(a.bytes.data(), data, 24), 0);

    // The header is what numpy expects: version 1.0, dict text, data 64-byte aligned.
    auto enc = encode_npy_f32(data, {6});
    std::string s(enc.begin(), enc.end());
    EXPECT_EQ(s.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    const size_t hl = enc[8] | (enc[9] << 8);
    EXPECT_EQ((10 + hl) % 64, 0u);
    EXPECT_EQ(s.substr(10, 57), "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }");
    EXPECT_EQ(s[10 + hl - 1], '\n');
    EXPECT_EQ(enc.size(), 10 + hl + 24);
}

TEST(Npy, ErrorsNameFileAndProblem) {
    TempDir dir;
    std::string good = numpy_i8_2x3();

    write_bytes(dir / "trunc.npy", good.substr(0, good.size() - 8));
    std::string msg = error_of([&] { read_npy(dir / "trunc.npy"); });
    EXPECT_NE(msg.find("trunc.npy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected 48 bytes, found 40"), std::string::npos) << msg;

    write_bytes(dir / "magic.npy", "PK\x03\x04 not numpy at all");
    msg = error_of([&] { read_npy(dir / "magic.npy"); });
    EXPECT_NE(msg.find("magic.npy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("magic"), std::string::npos) << msg;

    std::string be = good;
    be.replace(be.find("<i8"), 3, ">i8");
    write_bytes(dir / "be.npy", be);
    msg = error_of([&] { read_npy(dir / "be.npy"); });
    EXPECT_NE(msg.find("unsupported dtype '>i8'"), std::string::npos) << msg;

    std::string fo = good;
    fo.replace(fo.find("False"), 5, "True ");
    write_bytes(dir / "fortran.npy", fo);
    msg = error_of([&] { read_npy(dir / "fortran.npy"); });
    EXPECT_NE(msg.find("Fortran"), std::string::npos) << msg;

    // A shape whose item count overflows 64 bits (2^32 × 2^32 wraps to 0) with no data after the
    // header: refused, not read as an empty array.
    const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n";
    std::string huge = std::string("\x93NUMPY\x01\x00", 8);
    huge += static_cast<char>(header.size() & 0xff);
    huge += static_cast<char>(header.size() >> 8);
    write_bytes(dir / "huge.npy", huge + header);
    msg = error_of([&] { read_npy(dir / "huge.npy"); });
    EXPECT_NE(msg.find("huge.npy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("holds more items than any file can"), std::string::npos) << msg;
}

// ------------------------------------------------------------------------------ progress

namespace {
std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string line;
    while (std::getline(ss, line)) out.push_back(line);
    return out;
}
}  // namespace

TEST(Progress, PlainModePrintsAtMostElevenLines) {
    testing::internal::CaptureStderr();  // stderr becomes a file: not a TTY -> plain mode
    {
        Progress p("eval", 1000);
        for (int i = 0; i < 1000; ++i) p.advance();
        p.set_postfix("acc 87.1%");
    }
    auto lines = lines_of(testing::internal::GetCapturedStderr());
    ASSERT_GE(lines.size(), 2u);
    EXPECT_LE(lines.size(), 11u);
    EXPECT_NE(lines.front().find("eval ["), std::string::npos) << lines.front();
    EXPECT_NE(lines.front().find("/1000"), std::string::npos) << lines.front();
    EXPECT_NE(lines.front().find("ETA"), std::string::npos) << lines.front();
    EXPECT_NE(lines.back().find("[##############################] 1000/1000"), std::string::npos) << lines.back();
    EXPECT_NE(lines.back().find("acc 87.1%"), std::string::npos) << lines.back();
}

TEST(Progress, DisabledPrintsNothing) {
    testing::internal::CaptureStderr();
    {
        Progress p("quiet", 10, false);
        p.advance(10);
    }
    Progress::set_enabled(false);
    {
        Progress p("global", 10);
        p.advance(10);
        p.finish();
    }
    Progress::set_enabled(true);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// Progress::set_sink (the Python package's bars and Ctrl-C): every advance and the final call reach
// the sink instead of stderr; a sink that throws abandons the work from advance(); a throw from
// the final call (the destructor's) is dropped.
TEST(Progress, SinkGetsEveryStepAndMayAbandonTheWork) {
    struct Event {
        std::string label;
        size_t done, total;
        bool final;
        double seconds;
    };
    std::vector<Event> seen;
    struct Stop {};
    testing::internal::CaptureStderr();
    Progress::set_sink([&](const std::string& label, size_t done, size_t total, bool final, double seconds) {
        seen.push_back({label, done, total, final, seconds});
        if (label == "stop" && done >= 3 && !final) throw Stop{};
        if (final && label == "stop") throw Stop{};  // dropped
    });
    {
        Progress p("eval", 4);
        p.advance(1);
        p.advance(3);
    }
    int steps = 0;
    try {
        Progress p("stop", 10);
        for (; steps < 10; ++steps) p.advance();
    } catch (const Stop&) {
    }
    {
        Progress off("off", 5, false);  // a disabled bar reaches no sink
        off.advance(5);
    }
    Progress::set_sink(nullptr);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    EXPECT_EQ(steps, 2);  // the third advance threw
    ASSERT_EQ(seen.size(), 7u);
    EXPECT_EQ(seen[0].label, "eval");
    EXPECT_EQ(seen[0].done, 1u);
    EXPECT_EQ(seen[1].done, 4u);
    EXPECT_EQ(seen[1].total, 4u);
    EXPECT_TRUE(seen[2].final && seen[2].label == "eval");
    // seconds: since the bar was made, growing with each report (the rate Python shows is done / seconds)
    EXPECT_GE(seen[0].seconds, 0.0);
    EXPECT_LE(seen[0].seconds, seen[1].seconds);
    EXPECT_LE(seen[1].seconds, seen[2].seconds);
    EXPECT_EQ(seen[5].done, 3u);
    EXPECT_FALSE(seen[5].final);
    EXPECT_TRUE(seen[6].final && seen[6].label == "stop");
    testing::internal::CaptureStderr();  // without a sink: stderr again
    {
        Progress p("back", 2);
        p.advance(2);
    }
    EXPECT_NE(testing::internal::GetCapturedStderr().find("back ["), std::string::npos);
}

#if defined(__GLIBC__)
#include <malloc.h>

#include "camscope/util/allocator.hpp"

// The allocator trap (util/allocator.hpp): after tune_allocator(), a tensor-sized block (8 MiB)
// comes from the heap, not from a fresh mmap, and stays there for the next one.
TEST(Allocator, TensorSizedBlocksAreNotMmapped) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer replaces malloc";
#endif
    if (const char* env = std::getenv("CAMSCOPE_ALLOCATOR"); env && std::string(env) == "system")
        GTEST_SKIP() << "CAMSCOPE_ALLOCATOR=system";
    EXPECT_NE(camscope::tune_allocator().find("mmap threshold fixed at 32 MiB"), std::string::npos)
        << camscope::tune_allocator();
    const size_t before = mallinfo2().hblks;
    for (int i = 0; i < 3; ++i) {
        auto* p = static_cast<volatile char*>(std::malloc(8u << 20));
        ASSERT_NE(p, nullptr);
        p[0] = 1;
        EXPECT_EQ(mallinfo2().hblks, before) << "an 8 MiB block was mmapped";
        std::free(const_cast<char*>(p));
    }
    // Above the 32 MiB threshold glibc still maps (the threshold is capped there).
    auto* big = static_cast<volatile char*>(std::malloc(64u << 20));
    ASSERT_NE(big, nullptr);
    big[0] = 1;
    EXPECT_EQ(mallinfo2().hblks, before + 1);
    std::free(const_cast<char*>(big));
}
#endif

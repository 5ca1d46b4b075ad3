// write_report draws the class galleries, pair figures and explorer images on several threads
// (AnalysisOptions::threads): the report must be the same, byte for byte, for any thread count,
// and the drawing must really run on more than one thread. Also util/parallel.hpp itself.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "camscope/report/analysis.hpp"
#include "camscope/util/parallel.hpp"
#include "support/files.hpp"
#include "support/report_input.hpp"

namespace fs = std::filesystem;
using namespace camscope;

namespace {

constexpr int kK = 12, kPerClass = 25, kH = 16, kW = 16, kF = 4;

// 12 classes × 25 images with a spread of confusions (every class has errors and correct
// predictions, so every gallery has both rows and there are many confusion cells), 16×16 RGB
// images and 4×4 CAMs that differ per image: a report with 12 galleries, 5 pair figures and a
// few hundred explorer images.
AnalysisInput make_input() {
    std::vector<std::string> names;
    for (int c = 0; c < kK; ++c) names.push_back("class" + std::to_string(c));
    AnalysisInput in = support::report_input(names, kF, kF, kH, kW);
    support::name_toy_run(in);
    for (int c = 0; c < kK; ++c)
        for (int j = 0; j < kPerClass; ++j) {
            const int i = static_cast<int>(in.n);
            const int pred = j < 15 ? c : (c + 1 + j % 3) % kK;
            std::vector<double> z(kK);
            for (int k = 0; k < kK; ++k) z[k] = 0.3 * std::sin(1.7 * i + k);
            z[pred] += 2.0 + 0.1 * (j % 7);
            std::vector<float> cams[2];
            for (int slot = 0; slot < 2; ++slot)
                for (int p = 0; p < kF * kF; ++p)
                    cams[slot].push_back(0.5f + 0.5f * static_cast<float>(std::sin(0.37 * i + 1.3 * p + 2.1 * slot)));
            if (pred == c) cams[1] = cams[0];  // the true-class CAM is the predicted one where the prediction is right
            support::add_row(in, i, c, z, cams[0], cams[1]);
        }
    in.load_image = [](size_t row) {
        Image img{kW, kH, 3, std::vector<std::uint8_t>(kW * kH * 3)};
        for (int y = 0; y < kH; ++y)
            for (int x = 0; x < kW; ++x) {
                std::uint8_t* p = &img.pixels[(y * kW + x) * 3];
                p[0] = static_cast<std::uint8_t>(row * 7 + 13 * x);
                p[1] = static_cast<std::uint8_t>(row * 3 + 11 * y);
                p[2] = static_cast<std::uint8_t>(40 + 9 * (x ^ y));
            }
        return img;
    };
    return in;
}


}  // namespace

TEST(ReportParallel, AnyThreadCountWritesTheSameBytes) {
    AnalysisInput in = make_input();
    AnalysisOptions opt;
    opt.progress = false;
    Report r = build_report(in, opt);
    ASSERT_EQ(r.galleries.size(), static_cast<size_t>(kK));
    ASSERT_GE(r.pair_figures.size(), 5u);
    // Finer-CAM maps for every error (as attach_contrast_cams would add them), every third one
    // blank: the pair sheets' fourth column, the explorer's _finer overlays and its list of blank
    // Finer-CAM rows, all written from the drawing threads.
    r.contrast_fh = r.contrast_fw = kF;
    size_t errors = 0;
    for (size_t row = 0; row < in.n; ++row) {
        if (r.rows[row].pred == r.rows[row].label) continue;
        std::vector<float> m(kF * kF, 0.f);
        if (errors++ % 3 != 0)
            for (int p = 0; p < kF * kF; ++p) m[p] = 0.5f + 0.5f * static_cast<float>(std::cos(0.7 * row + p));
        r.contrast_cams[row] = m;
    }

    opt.threads = 1;
    std::vector<std::string> stages;
    opt.on_stage = [&](const std::string& s, double secs) {
        EXPECT_GE(secs, 0.0);
        stages.push_back(s);
    };
    const support::TempDir tmp("parallel");
    const fs::path one = tmp.path() / "1";
    write_report(r, in, opt, one.string());
    EXPECT_EQ(stages, (std::vector<std::string>{"figures", "galleries", "pair figures", "failure modes", "text", "explorer", "index"}));

    // With 4 threads the image loader holds its first caller until a second thread has arrived
    // (giving up after 30 s): a sequential writer would leave it alone and the check below fails.
    std::mutex mu;
    std::condition_variable cv;
    std::set<std::thread::id> callers;
    bool waited = false;
    const auto load = in.load_image;
    in.load_image = [&](size_t row) {
        {
            std::unique_lock<std::mutex> lock(mu);
            callers.insert(std::this_thread::get_id());
            cv.notify_all();
            if (!waited) {
                waited = true;
                cv.wait_for(lock, std::chrono::seconds(30), [&] { return callers.size() >= 2; });
            }
        }
        return load(row);
    };
    opt.threads = 4;
    opt.on_stage = nullptr;
    const fs::path four = tmp.path() / "4";
    write_report(r, in, opt, four.string());
    EXPECT_GE(callers.size(), 2u) << "the figures were drawn on one thread";

    const auto a = support::files_with_bytes(one), b = support::files_with_bytes(four);
    ASSERT_GT(a.size(), 100u);  // 12 galleries, 5+ pair figures, hundreds of explorer images
    size_t explorer_images = 0;
    for (const auto& [name, bytes] : a) {
        auto it = b.find(name);
        ASSERT_NE(it, b.end()) << name << " is missing from the 4-thread report";
        EXPECT_TRUE(it->second == bytes) << name << " differs between 1 and 4 threads";
        explorer_images += name.rfind("explorer/img/", 0) == 0;
    }
    EXPECT_EQ(a.size(), b.size());
    EXPECT_GT(explorer_images, 100u);
    size_t finer = 0;
    for (const auto& [name, bytes] : a) finer += name.find("_finer.png") != std::string::npos;
    EXPECT_GT(finer, 10u);
}

TEST(Parallel, RunsEveryItemOnceAndRethrowsTheFirstError) {
    for (int threads : {1, 3, 8}) {
        std::vector<std::atomic<int>> hits(1000);
        parallel_for(hits.size(), threads, [&](size_t i) { hits[i]++; });
        for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << "item " << i << ", " << threads;
    }
    std::atomic<int> ran{0};
    EXPECT_THROW(parallel_for(50, 4,
                              [&](size_t i) {
                                  ran++;
                                  if (i % 10 == 3) throw std::runtime_error("item " + std::to_string(i));
                              }),
                 std::runtime_error);
    EXPECT_EQ(ran.load(), 50);  // the other items still ran
    parallel_for(0, 4, [](size_t) { FAIL() << "no items"; });
    EXPECT_EQ(worker_threads(3), 3);
    EXPECT_GE(worker_threads(0), 1);
}

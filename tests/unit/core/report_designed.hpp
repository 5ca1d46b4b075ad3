#pragma once
// The report tests' designed input (4 classes x 10 images with designed confusions and CAMs),
// shared by test_report.cpp (the model and its recommendations), test_report_files.cpp (what
// write_report writes, and how it fails) and test_report_blank.cpp (blank maps).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "camscope/image/image.hpp"
#include "camscope/render/plot.hpp"
#include "camscope/report/analysis.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"
#include "support/files.hpp"
#include "support/png.hpp"
#include "support/report_input.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using support::is_png;
using support::read_csv;
using support::slurp;
using support::TempDir;

namespace report_test {

// 4 classes × 10 images. Designed outcome (true -> predicted):
//   class 0 "cat":          7 right, 3 -> dog
//   class 1 "dog":          8 right, 2 -> cat
//   class 2 "T-shirt/top":  6 right, 3 -> car, 1 -> cat
//   class 3 "car":         10 right
// Superclasses: {cat, dog} = animals, {T-shirt/top, car} = things.
// => 31 correct of 40; within-superclass errors 3 + 2 + 3 = 8 of 9.
inline constexpr int kK = 4, kPerClass = 10, kH = 8, kW = 8, kF = 4;

inline int designed_pred(int label, int j) {  // j = position of the image within its class
    switch (label) {
        case 0: return j < 7 ? 0 : 1;
        case 1: return j < 8 ? 1 : 0;
        case 2: return j < 6 ? 2 : (j < 9 ? 3 : 0);
        default: return 3;
    }
}

// A 4×4 map with one hot cell at (y, x) and a little mass elsewhere.
inline std::vector<float> blob(int y, int x) {
    std::vector<float> m(kF * kF, 0.05f);
    m[y * kF + x] = 1.f;
    return m;
}

inline AnalysisInput make_input() {
    AnalysisInput in = support::report_input({"cat", "dog", "T-shirt/top", "car"}, kF, kF, kH, kW);
    support::name_toy_run(in);
    in.coarse_names = {"animals", "things"};
    in.fine_to_coarse = {0, 0, 1, 1};
    for (int c = 0; c < kK; ++c) {
        for (int j = 0; j < kPerClass; ++j) {
            const int i = static_cast<int>(in.n);
            const int pred = designed_pred(c, j);
            std::vector<double> z(kK, 0.0);
            z[pred] = 2.f + 0.7f * (j % 5);  // float arithmetic, as the designed logits always were
            if (pred != c) z[c] = 1.f;
            // Correct: the predicted-class CAM sits in the centre; errors: in a corner, while the
            // true-class CAM is central.
            const auto cp = pred == c ? blob(1, 2) : blob(0, 0);
            const auto ct = pred == c ? cp : blob(2, 1);
            support::add_row(in, 1000 + i, c, z, cp, ct);
        }
    }
    in.load_image = [labels = in.labels](size_t row) {
        Image img{kW, kH, 3, std::vector<std::uint8_t>(kW * kH * 3)};
        for (int y = 0; y < kH; ++y)
            for (int x = 0; x < kW; ++x) {
                std::uint8_t* p = &img.pixels[(y * kW + x) * 3];
                p[0] = static_cast<std::uint8_t>(60 * labels[row] + 20);
                p[1] = static_cast<std::uint8_t>(25 * x + 30);
                p[2] = static_cast<std::uint8_t>(25 * y + 30);
            }
        return img;
    };
    in.timings.predict_s = 0.5;
    return in;
}

// The designed set has 10 images per class and at most 3 errors per pair: below the default
// minimum of images behind a quoted figure (30), so the designed recommendations are checked at 3.
inline AnalysisOptions quiet_options() {
    AnalysisOptions o;
    o.progress = false;
    o.rec_min_n = 3;
    return o;
}

// Sets the predicted-class and/or true-class map of a row to `value` everywhere: 0 is what the
// engine gives when nothing raises the score; a constant > 0 is degenerate too (no peak) and
// would pull any mean it entered towards the uniform map's figures.
inline void flatten(AnalysisInput& in, size_t row, bool pred, bool truth, float value = 0.f) {
    const size_t hw = static_cast<size_t>(in.fh) * in.fw;
    if (pred) std::fill(in.cam_pred.begin() + row * hw, in.cam_pred.begin() + (row + 1) * hw, value);
    if (truth) std::fill(in.cam_true.begin() + row * hw, in.cam_true.begin() + (row + 1) * hw, value);
}

// Rows of make_input(): class c, position j -> row 10c + j. Errors: 7, 8, 9 (cat -> dog),
// 18, 19 (dog -> cat), 26, 27, 28 (T-shirt/top -> car), 29 (T-shirt/top -> cat).

}  // namespace report_test

// The analysis report end to end on a hand-built input: build_report + write_report into a temp
// folder, then read the files back and check them against the designed confusions and each other.
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

namespace {

// 4 classes × 10 images. Designed outcome (true -> predicted):
//   class 0 "cat":          7 right, 3 -> dog
//   class 1 "dog":          8 right, 2 -> cat
//   class 2 "T-shirt/top":  6 right, 3 -> car, 1 -> cat
//   class 3 "car":         10 right
// Superclasses: {cat, dog} = animals, {T-shirt/top, car} = things.
// => 31 correct of 40; within-superclass errors 3 + 2 + 3 = 8 of 9.
const int kK = 4, kPerClass = 10, kH = 8, kW = 8, kF = 4;

int designed_pred(int label, int j) {  // j = position of the image within its class
    switch (label) {
        case 0: return j < 7 ? 0 : 1;
        case 1: return j < 8 ? 1 : 0;
        case 2: return j < 6 ? 2 : (j < 9 ? 3 : 0);
        default: return 3;
    }
}

// A 4×4 map with one hot cell at (y, x) and a little mass elsewhere.
std::vector<float> blob(int y, int x) {
    std::vector<float> m(kF * kF, 0.05f);
    m[y * kF + x] = 1.f;
    return m;
}

AnalysisInput make_input() {
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
AnalysisOptions quiet_options() {
    AnalysisOptions o;
    o.progress = false;
    o.rec_min_n = 3;
    return o;
}

// Sets the predicted-class and/or true-class map of a row to `value` everywhere: 0 is what the
// engine gives when nothing raises the score; a constant > 0 is degenerate too (no peak) and
// would pull any mean it entered towards the uniform map's figures.
void flatten(AnalysisInput& in, size_t row, bool pred, bool truth, float value = 0.f) {
    const size_t hw = static_cast<size_t>(in.fh) * in.fw;
    if (pred) std::fill(in.cam_pred.begin() + row * hw, in.cam_pred.begin() + (row + 1) * hw, value);
    if (truth) std::fill(in.cam_true.begin() + row * hw, in.cam_true.begin() + (row + 1) * hw, value);
}

// Rows of make_input(): class c, position j -> row 10c + j. Errors: 7, 8, 9 (cat -> dog),
// 18, 19 (dog -> cat), 26, 27, 28 (T-shirt/top -> car), 29 (T-shirt/top -> cat).

}  // namespace

TEST(Report, ModelMatchesDesignedConfusions) {
    const AnalysisInput in = make_input();
    const Report r = build_report(in, quiet_options());
    EXPECT_EQ(r.correct, 31);
    EXPECT_DOUBLE_EQ(r.top1, 31.0 / 40);
    EXPECT_EQ(r.confusion.at(0, 1), 3);
    EXPECT_EQ(r.confusion.at(1, 0), 2);
    EXPECT_EQ(r.confusion.at(2, 3), 3);
    EXPECT_EQ(r.confusion.at(2, 0), 1);
    ASSERT_EQ(r.directed.size(), 4u);
    // 0->1 and 2->3 both count 3 with rate 0.3; tie broken by (a, b).
    EXPECT_EQ(std::make_pair(r.directed[0].a, r.directed[0].b), std::make_pair(0, 1));
    EXPECT_EQ(std::make_pair(r.directed[1].a, r.directed[1].b), std::make_pair(2, 3));
    ASSERT_TRUE(r.has_superclasses);
    EXPECT_EQ(r.superclass.within, 8);
    EXPECT_EQ(r.superclass.errors, 9);
    // Worst class: T-shirt/top at 60 %.
    EXPECT_EQ(r.worst_classes.front(), 2);
    // Galleries: class 2 has 4 errors -> 4 worst (worst_k = 5), 3 best.
    EXPECT_EQ(r.galleries[2].worst.size(), 4u);
    EXPECT_EQ(r.galleries[2].best.size(), 3u);
    EXPECT_EQ(r.galleries[3].worst.size(), 0u);
    for (size_t i = 1; i < r.galleries[2].worst.size(); ++i)
        EXPECT_GE(r.galleries[2].worst[i - 1].confidence, r.galleries[2].worst[i].confidence);
    EXPECT_EQ(r.pair_figures.size(), 4u);  // only 4 non-zero pairs, asked for 5
    EXPECT_EQ(r.pair_figures[0].file, "confused_pair_cat_dog.png");
    EXPECT_EQ(r.pair_figures[1].file, "confused_pair_T-shirt_top_car.png");
    // Focus at 8×8: the error maps peak in the corner, the correct ones near the centre, so the
    // centre share must be lower on errors; true vs predicted CAMs peak apart, so IoU < 1.
    EXPECT_LT(r.focus.centre_wrong, r.focus.centre_correct);
    EXPECT_EQ(r.focus.n_wrong, 9);
    EXPECT_LT(r.mean_iou_errors, 1.0);
    // Rules that must fire on these figures: pair rate 30 % > 10 %, T-shirt/top 60 % < 77.5 − 15.
    std::map<std::string, int> rules;
    for (const auto& rec : r.recommendations) ++rules[rec.rule];
    EXPECT_EQ(rules["confused_pairs"], 1);
    for (const auto& rec : r.recommendations)
        if (rec.rule == "confused_pairs") {
            // cat->dog 30 %, T-shirt/top->car 30 %, dog->cat 20 % are above 10 %; T-shirt/top->cat (10 %) is not.
            EXPECT_NE(rec.text.find("3 directed pairs"), std::string::npos) << rec.text;
            EXPECT_NE(rec.text.find("'dog' -> 'cat' 2 of 10 (20.0%"), std::string::npos) << rec.text;
            EXPECT_EQ(rec.text.find("'T-shirt/top' -> 'cat'"), std::string::npos) << rec.text;
        }
    EXPECT_GE(rules["worst_classes"], 1);
    EXPECT_EQ(rules.count("none"), 0u);
}

TEST(Report, RejectsMismatchedShapes) {
    AnalysisInput in = make_input();
    in.logits.pop_back();
    EXPECT_THROW(build_report(in, quiet_options()), Error);
    in = make_input();
    in.cam_true.resize(3);
    try {
        build_report(in, quiet_options());
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cam_true"), std::string::npos) << e.what();
    }
}

TEST(Report, ATemperatureStoppedAtItsBoundIsNotOfferedAsTheFix) {
    // The toy's predictions with logits 1,000x larger: the errors are so confident that the NLL
    // keeps falling up to the largest T searched (20), where the ECE barely moves.
    AnalysisInput in = make_input();
    for (auto& z : in.logits) z *= 1000.f;
    in.probs = metrics::softmax_rows(in.logits.data(), in.n, in.num_classes);
    const AnalysisOptions opt = quiet_options();
    const Report r = build_report(in, opt);
    ASSERT_EQ(r.calibration.bound, 1);
    EXPECT_DOUBLE_EQ(r.calibration.temperature, 20.0);
    EXPECT_LT(metrics::mean_nll(in.logits.data(), in.labels.data(), in.n, in.num_classes, 40.0),
              r.calibration.nll_after);  // the optimum does lie beyond the bound
    std::string rec;
    for (const auto& x : r.recommendations)
        if (x.rule == "calibration") rec = x.text;
    EXPECT_NE(rec.find("the NLL still falls at T = 20.000, the largest temperature searched"), std::string::npos) << rec;
    EXPECT_EQ(rec.find("would bring ECE"), std::string::npos) << rec;
    EXPECT_EQ(rec.find("divide the logits by T"), std::string::npos) << rec;

    TempDir tmp;
    const fs::path out = tmp.path() / "report";
    write_report(r, in, opt, out.string());
    const auto j = nlohmann::json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(j["calibration"]["temperature"]["at_bound"], "largest");
    const std::string text = slurp(out / "analysis_summary.txt");
    EXPECT_NE(text.find("the NLL still falls at T = 20.000, the largest temperature searched"), std::string::npos)
        << text;
    EXPECT_EQ(text.find("minimises the NLL"), std::string::npos) << text;
    EXPECT_NE(format_terminal_summary(r).find("T = 20.00 (the largest searched)"), std::string::npos);
    EXPECT_NE(slurp(out / "index.html").find("ECE at T = 20.00 (the largest searched)"), std::string::npos);

    // The toy as it is has an interior optimum: no bound is named anywhere.
    const Report plain = build_report(make_input(), opt);
    EXPECT_EQ(plain.calibration.bound, 0);
    EXPECT_EQ(format_terminal_summary(plain).find("searched"), std::string::npos);
}

TEST(Report, ACollapsedOutputIsTheFirstRecommendation) {
    // Every image predicted as class 2, a quarter of the labels: the rule fires first and quotes
    // the shares; the toy as it is (no class predicted for half the images) does not fire it.
    AnalysisInput in = make_input();
    const size_t k = static_cast<size_t>(in.num_classes);
    for (size_t i = 0; i < in.n; ++i) {
        float* z = &in.logits[i * k];
        z[2] = *std::max_element(z, z + k) + 3.f;
    }
    in.probs = metrics::softmax_rows(in.logits.data(), in.n, in.num_classes);
    long long label2 = 0;
    for (int l : in.labels) label2 += l == 2;
    const Report r = build_report(in, quiet_options());
    ASSERT_FALSE(r.recommendations.empty());
    const auto& rec = r.recommendations.front();
    EXPECT_EQ(rec.rule, "prediction_collapse");
    const std::string expect = format("'%s' is the prediction for 100.0%% of the images (40 of 40) but the label of "
                                      "%.1f%% (%lld)",
                                      in.class_names[2].c_str(), 100.0 * double(label2) / 40.0, label2);
    EXPECT_NE(rec.text.find(expect), std::string::npos) << rec.text;
    const std::map<std::string, double> fig(rec.figures.begin(), rec.figures.end());
    EXPECT_DOUBLE_EQ(fig.at("predicted_share"), 1.0);
    EXPECT_DOUBLE_EQ(fig.at("label_share"), double(label2) / 40.0);

    const Report plain = build_report(make_input(), quiet_options());
    for (const auto& x : plain.recommendations) EXPECT_NE(x.rule, "prediction_collapse");
}

TEST(Report, WritesEveryFileConsistently) {
    const AnalysisInput in = make_input();
    const AnalysisOptions opt = quiet_options();
    const Report r = build_report(in, opt);
    TempDir tmp;
    const fs::path out = tmp.path() / "report";
    write_report(r, in, opt, out.string());

    for (const char* name : {"confusion_matrix_full.png", "confusion_matrix.csv", "per_class_accuracy.csv",
                             "per_class_accuracy_interactive.html", "most_confused_pairs.csv",
                             "top_confused_pairs.png", "reliability_diagram.png", "analysis_summary.txt",
                             "recommendations.txt", "summary.json", "index.html", "likely_label_errors.png"})
        EXPECT_TRUE(fs::is_regular_file(out / name)) << name;
    for (const char* name : {"worst_predictions/class_0_cat.png", "worst_predictions/class_1_dog.png",
                             "worst_predictions/class_2_T-shirt_top.png", "worst_predictions/class_3_car.png"}) {
        EXPECT_TRUE(fs::is_regular_file(out / name)) << name;
        EXPECT_TRUE(is_png(out / name)) << name;
    }
    for (const char* name : {"confusion_matrix_full.png", "top_confused_pairs.png", "reliability_diagram.png"})
        EXPECT_TRUE(is_png(out / name)) << name;
    // No temporary files left behind.
    for (const auto& e : fs::recursive_directory_iterator(out))
        EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();

    // confusion_matrix.csv: header + 4 rows of 5 cells, equal to the designed counts.
    const auto cm = read_csv(out / "confusion_matrix.csv");
    ASSERT_EQ(cm.size(), 5u);
    EXPECT_EQ(cm[0], (std::vector<std::string>{"true\\predicted", "cat", "dog", "T-shirt/top", "car"}));
    std::map<std::pair<std::string, std::string>, long long> cell;
    for (size_t t = 1; t < cm.size(); ++t) {
        ASSERT_EQ(cm[t].size(), 5u);
        for (size_t p = 1; p < 5; ++p) cell[{cm[t][0], cm[0][p]}] = std::stoll(cm[t][p]);
    }
    EXPECT_EQ(cell[std::make_pair(std::string("cat"), std::string("cat"))], 7);
    EXPECT_EQ(cell[std::make_pair(std::string("T-shirt/top"), std::string("car"))], 3);
    EXPECT_EQ(cell[std::make_pair(std::string("T-shirt/top"), std::string("cat"))], 1);

    // per_class_accuracy.csv: header, one row per class; support-weighted accuracy = top-1.
    const auto pc = read_csv(out / "per_class_accuracy.csv");
    ASSERT_EQ(pc.size(), 5u);
    EXPECT_EQ(pc[0], (std::vector<std::string>{"class_index", "class_name", "support", "accuracy", "precision", "f1",
                                               "mean_confidence", "most_confused_with", "most_confused_count"}));
    double weighted = 0, support = 0;
    for (size_t i = 1; i < pc.size(); ++i) {
        ASSERT_EQ(pc[i].size(), 9u);
        weighted += std::stod(pc[i][2]) * std::stod(pc[i][3]);
        support += std::stod(pc[i][2]);
    }
    EXPECT_NEAR(weighted / support, 31.0 / 40, 1e-6);
    EXPECT_EQ(pc[3][1], "T-shirt/top");
    EXPECT_NEAR(std::stod(pc[3][3]), 0.6, 1e-6);
    EXPECT_EQ(pc[3][7], "car");
    EXPECT_EQ(pc[3][8], "3");
    // Precision of "cat": predicted 7 + 2 + 1 = 10 times, right 7.
    EXPECT_NEAR(std::stod(pc[1][4]), 0.7, 1e-6);

    // most_confused_pairs.csv: every directed row equals its confusion-matrix cell, and every
    // non-zero off-diagonal cell has a row; symmetric rows add both directions.
    const auto pairs = read_csv(out / "most_confused_pairs.csv");
    ASSERT_GE(pairs.size(), 2u);
    EXPECT_EQ(pairs[0], (std::vector<std::string>{"kind", "rank", "a_index", "a_name", "b_index", "b_name", "count",
                                                  "rate", "count_ab", "count_ba"}));
    int directed = 0, symmetric = 0;
    for (size_t i = 1; i < pairs.size(); ++i) {
        const auto& row = pairs[i];
        ASSERT_EQ(row.size(), 10u);
        const long long count = std::stoll(row[6]);
        if (row[0] == "directed") {
            ++directed;
            const std::pair<std::string, std::string> ab{row[3], row[5]}, ba{row[5], row[3]};
            EXPECT_EQ(count, cell[ab]) << row[3] << " -> " << row[5];
            EXPECT_EQ(std::stoll(row[9]), cell[ba]);
            EXPECT_NEAR(std::stod(row[7]), double(count) / kPerClass, 1e-6);
        } else {
            ASSERT_EQ(row[0], "symmetric");
            ++symmetric;
            const std::pair<std::string, std::string> ab{row[3], row[5]}, ba{row[5], row[3]};
            EXPECT_EQ(count, cell[ab] + cell[ba]);
            EXPECT_NEAR(std::stod(row[7]), double(count) / (2 * kPerClass), 1e-6);
        }
    }
    int nonzero = 0;
    for (const auto& [k, v] : cell)
        if (k.first != k.second && v > 0) ++nonzero;
    EXPECT_EQ(directed, nonzero);
    EXPECT_EQ(symmetric, 3);  // {cat,dog}, {cat,T-shirt/top}, {T-shirt/top,car}

    // summary.json parses, has schema_version 1 and agrees with the CSVs.
    const auto j = nlohmann::json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(j["schema_version"], 1);
    EXPECT_NEAR(j["overall"]["top1"].get<double>(), weighted / support, 1e-9);
    EXPECT_EQ(j["per_class"].size(), 4u);
    EXPECT_EQ(j["pairs"]["directed"].size(), static_cast<size_t>(directed));
    EXPECT_EQ(j["superclass"]["within"], 8);
    EXPECT_EQ(j["calibration"]["bins"].size(), 15u);
    EXPECT_TRUE(j["calibration"]["temperature"]["T"].is_number());
    EXPECT_EQ(j["calibration"]["ece"].get<double>(), r.calibration.before.ece);
    ASSERT_EQ(j["confused_pair_figures"].size(), 4u);
    for (const auto& f : j["confused_pair_figures"]) {
        const fs::path p = out / f["file"].get<std::string>();
        EXPECT_TRUE(is_png(p)) << p;
    }
    // Every file summary.json lists exists.
    for (const auto& f : j["files"]) EXPECT_TRUE(fs::is_regular_file(out / f["name"].get<std::string>())) << f["name"];

    // index.html inlines the figures; the interactive page needs nothing from the network.
    const std::string index = slurp(out / "index.html");
    EXPECT_NE(index.find("data:image/png;base64,iVBORw0KGgo"), std::string::npos);
    const std::string inter = slurp(out / "per_class_accuracy_interactive.html");
    EXPECT_EQ(inter.find("http://cdn"), std::string::npos);
    EXPECT_EQ(inter.find("<script src"), std::string::npos);
    EXPECT_NE(inter.find("T-shirt/top"), std::string::npos);

    // The words quote the numbers.
    const std::string recs = slurp(out / "recommendations.txt");
    EXPECT_NE(recs.find("'cat' -> 'dog' 3 of 10 (30.0%; reverse 2"), std::string::npos) << recs;
    EXPECT_NE(recs.find("30.0%"), std::string::npos);
    const std::string summary = slurp(out / "analysis_summary.txt");
    EXPECT_NE(summary.find("77.5%"), std::string::npos);
    EXPECT_NE(summary.find("8 of 9"), std::string::npos);

    const std::string term = format_terminal_summary(r);
    EXPECT_NE(term.find("77.5%"), std::string::npos);
    EXPECT_NE(term.find("T-shirt/top"), std::string::npos);
}

TEST(Report, AFailureLeavesThePreviousReportAsItWas) {
    const AnalysisInput in = make_input();
    const AnalysisOptions opt = quiet_options();
    Report r = build_report(in, opt);
    RunIdentity id;
    id.model_path = "first.pt";
    id.model_sha256 = std::string(64, '1');
    id.data_fingerprint = std::string(64, '2');
    r.identity = id;
    TempDir tmp;
    const fs::path out = tmp.path() / "r";
    write_report(r, in, opt, out.string());
    const auto before = support::files_with_bytes(out);
    const auto summary = nlohmann::json::parse(before.at("summary.json"));
    EXPECT_EQ(summary["identity"]["model"]["path"], "first.pt");  // summary.json records the identity
    EXPECT_EQ(summary["identity"]["model"]["sha256"], std::string(64, '1'));

    // A second run fails half-way (an image that cannot be read while the galleries are drawn):
    // the earlier report is untouched, and nothing is left beside it.
    AnalysisInput broken = make_input();
    auto calls = std::make_shared<int>(0);
    broken.load_image = [good = broken.load_image, calls](size_t row) {
        if (++*calls > 3) throw Error("image " + std::to_string(row) + ": unreadable");
        return good(row);
    };
    r.identity->model_path = "second.pt";
    EXPECT_THROW(write_report(r, broken, opt, out.string()), Error);
    EXPECT_EQ(support::files_with_bytes(out), before);
    std::vector<std::string> beside;
    for (const auto& e : fs::directory_iterator(tmp.path())) beside.push_back(e.path().filename().string());
    EXPECT_EQ(beside, std::vector<std::string>{"r"});
}

TEST(Report, AFolderOfOtherFilesIsRefusedUntouched) {
    const AnalysisInput in = make_input();
    const AnalysisOptions opt = quiet_options();
    const Report r = build_report(in, opt);
    TempDir tmp;
    const fs::path out = tmp.path() / "photos";
    fs::create_directories(out);
    std::ofstream(out / "holiday.jpg") << "jpeg";
    try {
        write_report(r, in, opt, out.string());
        ADD_FAILURE() << "a folder of other files was replaced";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("holiday.jpg"), std::string::npos) << e.what();
    }
    EXPECT_EQ(support::files_with_bytes(out), (std::map<std::string, std::string>{{"holiday.jpg", "jpeg"}}));
    // A report folder with a file of the user's: replaced, the user's file kept.
    const fs::path rep = tmp.path() / "report";
    write_report(r, in, opt, rep.string());
    std::ofstream(rep / "notes.txt") << "mine";
    write_report(r, in, opt, rep.string());
    EXPECT_EQ(support::files_with_bytes(rep).at("notes.txt"), "mine");
    EXPECT_TRUE(fs::exists(rep / "summary.json"));
}

TEST(Report, ImpossibleFolderThrows) {
    const AnalysisInput in = make_input();
    const AnalysisOptions opt = quiet_options();
    const Report r = build_report(in, opt);
    TempDir tmp;
    // A folder that cannot exist (its parent is a plain file): fails for every user, root included.
    std::ofstream(tmp.path() / "file") << "x";
    EXPECT_THROW(write_report(r, in, opt, (tmp.path() / "file" / "report").string()), Error);
    EXPECT_FALSE(fs::exists(tmp.path() / "file" / "report" / "summary.json"));
}

TEST(Report, UnwritableFolderThrowsAndLeavesNoSummary) {
    const AnalysisInput in = make_input();
    const AnalysisOptions opt = quiet_options();
    const Report r = build_report(in, opt);
    TempDir tmp;
    // A read-only folder: only meaningful without root's override of permissions.
    const fs::path out = tmp.path() / "ro";
    fs::create_directories(out);
    fs::permissions(out, fs::perms::owner_read | fs::perms::owner_exec);
    if (::access(out.c_str(), W_OK) == 0) GTEST_SKIP() << "running with privileges that ignore permissions";
    EXPECT_THROW(write_report(r, in, opt, out.string()), Error);
    EXPECT_FALSE(fs::exists(out / "summary.json"));
}

TEST(Report, DegenerateMapsAreCountedMarkedAndLeftOutOfStatistics) {
    AnalysisInput in = make_input();
    const Report before = build_report(in, quiet_options());
    EXPECT_EQ(before.degenerate.pred().degenerate, 0);
    EXPECT_EQ(before.focus.n_correct, 31);
    // 6 correct 'car' images: constant maps (one map each: true = predicted class); row 7 (cat ->
    // dog): blank predicted-class map; row 8: blank true-class map.
    for (size_t row = 30; row < 36; ++row) flatten(in, row, true, true, 0.3f);
    flatten(in, 7, true, false);
    flatten(in, 8, false, true);
    const Report r = build_report(in, quiet_options());
    const DegenerateStats& d = r.degenerate;
    EXPECT_EQ(d.pred_correct.maps, 31);
    EXPECT_EQ(d.pred_correct.degenerate, 6);
    EXPECT_EQ(d.pred_wrong.maps, 9);
    EXPECT_EQ(d.pred_wrong.degenerate, 1);
    EXPECT_EQ(d.true_wrong.maps, 9);
    EXPECT_EQ(d.true_wrong.degenerate, 1);
    EXPECT_EQ(d.pred().degenerate, 7);
    EXPECT_EQ(d.pred().maps, 40);
    // By predicted class: 'car' is predicted for its 10 images and rows 26-28; 'dog' for its 8
    // correct ones and rows 7-9.
    EXPECT_EQ(d.by_pred_class[3].maps, 13);
    EXPECT_EQ(d.by_pred_class[3].degenerate, 6);
    EXPECT_EQ(d.by_pred_class[1].maps, 11);
    EXPECT_EQ(d.by_pred_class[1].degenerate, 1);
    EXPECT_EQ(d.by_pred_class[0].degenerate, 0);
    // By true class (true-class maps of every image): row 8's, and the six 'car' maps.
    EXPECT_EQ(d.by_true_class[0].maps, 10);
    EXPECT_EQ(d.by_true_class[0].degenerate, 1);
    EXPECT_EQ(d.by_true_class[3].degenerate, 6);
    EXPECT_FALSE(d.warn()) << "7 of 40 = 17.5 % is below the 20 % warning";
    EXPECT_TRUE(r.rows[7].pred_cam_degenerate);
    EXPECT_FALSE(r.rows[7].true_cam_degenerate);
    EXPECT_FALSE(r.rows[8].pred_cam_degenerate);
    EXPECT_TRUE(r.rows[8].true_cam_degenerate);
    EXPECT_TRUE(r.rows[30].pred_cam_degenerate && r.rows[30].true_cam_degenerate);
    EXPECT_FALSE(r.rows[36].pred_cam_degenerate);

    // Left out of the statistics, with the denominators kept: 25 of 31 correct, 8 of 9 errors.
    EXPECT_EQ(r.focus.n_correct, 25);
    EXPECT_EQ(r.focus.total_correct, 31);
    EXPECT_EQ(r.focus.n_wrong, 8);
    EXPECT_EQ(r.focus.total_wrong, 9);
    // Every correct map with evidence is the same blob, so the mean is exactly the one without the
    // constant maps; had they entered, it would have moved towards the uniform map's 25 %.
    EXPECT_DOUBLE_EQ(r.focus.centre_correct, before.focus.centre_correct);
    EXPECT_EQ(r.focus_per_class[3].n_correct, 4);
    EXPECT_EQ(r.focus_per_class[3].total_correct, 10);
    EXPECT_EQ(r.n_iou_errors, 7) << "rows 7 and 8 lack a map";
    for (const auto& pf : r.pair_focus)
        if (pf.a == 0 && pf.b == 1) {
            EXPECT_EQ(pf.n, 1) << "only row 9 of cat -> dog has both maps";
            EXPECT_EQ(pf.errors, 3);
        }

    // The files say it, with the denominators.
    TempDir tmp;
    const fs::path out = tmp.path() / "report";
    write_report(r, in, quiet_options(), out.string());
    const auto j = nlohmann::json::parse(slurp(out / "summary.json"));
    const auto& dj = j["degenerate_cams"];
    EXPECT_EQ(dj["predicted_class_maps"]["maps"], 40);
    EXPECT_EQ(dj["predicted_class_maps"]["degenerate"], 7);
    EXPECT_EQ(dj["predicted_class_maps_correct"]["degenerate"], 6);
    EXPECT_EQ(dj["predicted_class_maps_wrong"]["degenerate"], 1);
    EXPECT_EQ(dj["true_class_maps_wrong"]["degenerate"], 1);
    EXPECT_EQ(dj["warning"], false);
    EXPECT_EQ(j["per_class"][3]["degenerate_cams"]["predicted_class_maps"]["degenerate"], 6);
    EXPECT_EQ(j["per_class"][3]["degenerate_cams"]["predicted_class_maps"]["maps"], 13);
    EXPECT_EQ(j["focus"]["overall"]["n_correct"], 25);
    EXPECT_EQ(j["focus"]["overall"]["total_correct"], 31);
    EXPECT_EQ(j["focus"]["n_iou_errors"], 7);
    EXPECT_EQ(j["focus"]["errors"], 9);
    EXPECT_EQ(j["high_confidence_errors"]["count"].get<size_t>(), r.high_conf_errors.size());
    const std::string text = slurp(out / "analysis_summary.txt");
    EXPECT_NE(text.find("7 of 40 predicted-class maps (17.5%): 6 of 31 on correct predictions, 1 of 9 on errors; "
                        "true-class maps of errors 1 of 9"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("on correct predictions (over 25 of 31 images)"), std::string::npos) << text;
    EXPECT_NE(text.find("over 7 of 9 errors"), std::string::npos) << text;
    EXPECT_EQ(text.find("WARNING"), std::string::npos) << "below the threshold: no warning";
}

// Decoded PNG file: how many pixels have exactly this colour.
long count_rgb(const fs::path& png, std::uint32_t rgb) { return support::count_rgb(support::read_png(png), rgb); }

TEST(Report, FiguresMarkBlankMapsInsteadOfDrawingThem) {
    AnalysisInput in = make_input();
    for (size_t row = 30; row < 40; ++row) flatten(in, row, true, true);  // every 'car' image (class 3, all correct)
    flatten(in, 7, true, false);   // cat -> dog, predicted-class map blank
    const AnalysisOptions opt = quiet_options();
    const Report r = build_report(in, opt);
    TempDir tmp;
    const fs::path out = tmp.path() / "report";
    write_report(r, in, opt, out.string());
    // The stamp's frame colour appears exactly where blank maps are shown: the 'car' gallery (its best
    // three are blank) and the cat -> dog pair figure; not in the 'T-shirt/top' gallery (its maps
    // all have evidence).
    const long car = count_rgb(out / "worst_predictions/class_3_car.png", plot::kStampRgb);
    const long shirt = count_rgb(out / "worst_predictions/class_2_T-shirt_top.png", plot::kStampRgb);
    const long pair = count_rgb(out / "confused_pair_cat_dog.png", plot::kStampRgb);
    EXPECT_GT(car, 3 * 4 * 100) << "three framed tiles";
    EXPECT_EQ(shirt, 0);
    EXPECT_GT(pair, 2 * 4 * 100) << "row 7's predicted-class map and its difference";
    // The explorer's offline overlays of a blank map are the hatched grey stand-in: no colour at all.
    const auto js = slurp(out / "explorer/data.js");
    const auto data = parse_explorer_data_js(js, "data.js");
    EXPECT_EQ(data["rows"]["blank"][30], 3) << "both maps of a correct image";
    EXPECT_EQ(data["rows"]["blank"][7], 1);
    EXPECT_EQ(data["rows"]["blank"][9], 0);
    const std::string img = data["images"]["30"]["pred"].get<std::string>();
    const Image overlay = support::decode_png(slurp(out / "explorer" / img), img);
    EXPECT_TRUE(support::is_grey(overlay)) << "a blank map is never drawn in JET colours";
}

TEST(Report, BlankCamWarningNamesTheMeasuredBetterMethodAndLayer) {
    AnalysisInput in = make_input();
    // 18 of 40 predicted-class maps blank (45 %): the 10 'car' images and the 8 correct 'dog' ones.
    for (size_t row = 30; row < 40; ++row) flatten(in, row, true, true);
    for (size_t row = 10; row < 18; ++row) flatten(in, row, true, true);
    AnalysisOptions opt = quiet_options();
    Report r = build_report(in, opt);
    ASSERT_TRUE(r.degenerate.warn());
    ASSERT_FALSE(r.recommendations.empty());
    EXPECT_EQ(r.recommendations.front().rule, "degenerate_cams") << "first: every CAM figure depends on it";
    EXPECT_NE(r.recommendations.front().text.find("45.0% of the gradcam maps of the predicted class at layer "
                                                   "'layer4' have no positive evidence (18 of 40 images"),
              std::string::npos)
        << r.recommendations.front().text;
    EXPECT_NE(r.recommendations.front().text.find("No alternative was measured"), std::string::npos);

    // The faithfulness check on the same 40 images: gradcampp ranks first but is blank on half of
    // them (above the 20 % limit); layercam ranks last but is blank on 2: it is the better method.
    // At other layers gradcam is blank on none (layer2, layer3: a tie, the deeper one wins).
    std::vector<faith::ImageRecord> recs;
    const std::vector<std::string> methods{"gradcam", "gradcampp", "layercam"};
    for (int m = 0; m < 3; ++m)
        for (size_t i = 0; i < 40; ++i) {
            faith::ImageRecord rec;
            rec.method = m;
            rec.index = static_cast<int>(i);
            rec.label = r.rows[i].label;
            rec.pred = r.rows[i].pred;
            rec.degenerate = m == 0 ? r.rows[i].pred_cam_degenerate : m == 1 ? i % 2 == 0 : i < 2;
            const double rank = m == 1 ? 0 : m == 0 ? 1 : 2;  // gradcampp best on every metric
            rec.scores.average_drop = 10 + 10 * rank;
            rec.scores.increase = 0.5 - 0.1 * rank;
            rec.scores.deletion_auc = 0.1 + 0.1 * rank;
            rec.scores.insertion_auc = 0.9 - 0.1 * rank;
            rec.scores.road_combined = 0.3 - 0.1 * rank;
            recs.push_back(rec);
        }
    faith::Summary fs = faith::summarize(recs, methods, r.class_names, faith::Params{});
    fs.layer = "layer4";
    fs.layer_checks = {{"gradcam", "layer2", 8, 8, 40, 0}, {"gradcam", "layer3", 4, 4, 40, 0},
                       {"gradcam", "layer4", 2, 2, 40, 18}};
    ASSERT_EQ(fs.best, "gradcampp");
    opt.rec_min_n = 30;  // the sample (40) is large enough to be quoted at the default minimum
    attach_faithfulness(r, fs, opt);
    ASSERT_TRUE(r.better_method);
    EXPECT_EQ(r.better_method->method, "layercam");
    EXPECT_EQ(r.better_method->degenerate, 2);
    EXPECT_DOUBLE_EQ(r.better_method->mean_rank, 3.0);
    ASSERT_TRUE(r.better_layer);
    EXPECT_EQ(r.better_layer->layer, "layer3");
    EXPECT_EQ(r.cam_candidates.size(), 4u) << "two other methods, two other layers";
    const std::string& text = r.recommendations.front().text;
    EXPECT_NE(text.find("layercam at 'layer4': 2 of 40 maps degenerate (5.0%), faithfulness mean rank 3.00 -> "
                        "--method layercam"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("gradcam at 'layer3': 0 of 40 maps degenerate (0.0%) -> --layer layer3"), std::string::npos)
        << text;

    TempDir tmp;
    const fs::path out = tmp.path() / "report";
    write_report(r, in, opt, out.string());
    const std::string summary = slurp(out / "analysis_summary.txt");
    const auto warn_at = summary.find("WARNING: 45.0% of the gradcam CAMs at layer 'layer4' are blank (18 of 40");
    EXPECT_NE(warn_at, std::string::npos) << summary;
    EXPECT_LT(warn_at, summary.find("OVERALL")) << "at the top";
    EXPECT_NE(summary.find("try --method layercam"), std::string::npos);
    EXPECT_NE(summary.find("try --layer layer3"), std::string::npos);
    EXPECT_NE(summary.find("Blank maps on that sample: gradcam 18/40, gradcampp 20/40, layercam 2/40, gradcam at "
                           "'layer2' 0/40, gradcam at 'layer3' 0/40, gradcam at 'layer4' 18/40."),
              std::string::npos)
        << summary;
    const std::string term = format_terminal_summary(r);
    EXPECT_NE(term.find("! WARNING: 45.0%"), std::string::npos) << term;
    EXPECT_NE(term.find("try --method layercam"), std::string::npos) << term;
    const std::string index = slurp(out / "index.html");
    EXPECT_NE(index.find("id=\"degenerate-warning\""), std::string::npos);
    EXPECT_LT(index.find("id=\"degenerate-warning\""), index.find("<h2>Recommendations</h2>"));
    const auto j = nlohmann::json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(j["degenerate_cams"]["warning"], true);
    EXPECT_EQ(j["degenerate_cams"]["better_method"]["method"], "layercam");
    EXPECT_EQ(j["degenerate_cams"]["better_layer"]["layer"], "layer3");
    EXPECT_EQ(j["recommendations"][0]["rule"], "degenerate_cams");
    const auto data = parse_explorer_data_js(slurp(out / "explorer/data.js"), "data.js");
    EXPECT_EQ(data["cam_health"]["degenerate"], 18);
    EXPECT_FALSE(data["cam_health"]["warning"].empty());

    // No alternative qualifies when each is as blank as the analysed method: none is named.
    for (auto& c : fs.layer_checks) c.degenerate = 18;
    for (auto& rec : recs) rec.degenerate = rec.method == 0 ? r.rows[rec.index].pred_cam_degenerate : true;
    faith::Summary worse = faith::summarize(recs, methods, r.class_names, faith::Params{});
    worse.layer_checks = fs.layer_checks;
    attach_faithfulness(r, worse, opt);
    EXPECT_FALSE(r.better_method);
    EXPECT_FALSE(r.better_layer);
    EXPECT_NE(r.recommendations.front().text.find("None of the alternatives measured"), std::string::npos);
}

TEST(Report, RecommendationsQuoteNoFigureOverTooFewImages) {
    const AnalysisInput in = make_input();
    // At the default minimum (30) only figures over all 40 images are quoted (calibration, label
    // errors); the pair rates (10 images per class), class accuracies, CAM centre shares (9 errors)
    // and the superclass share (9 errors) are not, and a last note says so.
    AnalysisOptions opt;
    opt.progress = false;
    const Report r = build_report(in, opt);
    std::vector<std::string> rules;
    for (const auto& rec : r.recommendations) rules.push_back(rec.rule);
    EXPECT_EQ(rules, (std::vector<std::string>{"calibration", "label_errors", "too_few_images"}));
    const std::string& note = r.recommendations.back().text;
    EXPECT_NE(note.find("fewer than 30 images of the true class"), std::string::npos) << note;
    EXPECT_NE(note.find("CAM centre share not quoted: 31 of 31 correct and 9 of 9 wrong predictions"),
              std::string::npos)
        << note;
    EXPECT_NE(note.find("class accuracies not quoted below 30 images per class"), std::string::npos) << note;
    EXPECT_NE(note.find("superclass share not quoted: 9 errors"), std::string::npos) << note;
    // At a minimum of 3 the pair figures are quoted, the CAM IoU only where 3 errors have two maps.
    opt.rec_min_n = 3;
    AnalysisInput one_blank = in;
    flatten(one_blank, 26, true, false);  // T-shirt/top -> car: 2 of 3 errors keep both maps
    const Report q = build_report(one_blank, opt);
    std::string pairs;
    for (const auto& rec : q.recommendations)
        if (rec.rule == "confused_pairs") pairs = rec.text;
    EXPECT_NE(pairs.find("'cat' -> 'dog' 3 of 10 (30.0%; reverse 2), CAM IoU"), std::string::npos) << pairs;
    EXPECT_NE(pairs.find("over 3 of 3 errors"), std::string::npos) << pairs;
    EXPECT_NE(pairs.find("'T-shirt/top' -> 'car' 3 of 10 (30.0%; reverse 0);"), std::string::npos)
        << "its IoU is over 2 images: not quoted\n" << pairs;
}

TEST(Report, ClassFileStem) {
    EXPECT_EQ(class_file_stem(0, "T-shirt/top"), "class_0_T-shirt_top");
    EXPECT_EQ(class_file_stem(12, "large man-made"), "class_12_large_man-made");
}

// Many classes (ImageNet's 1,000): galleries for the weakest classes and the pair sheets' classes
// only, a labelled sub-matrix of the most confused classes, the confusion matrix as its non-zero
// cells in summary.json. The thresholds are lowered so that the 4-class set crosses all three.
TEST(Report, ManyClassesDrawTheWeakestGalleriesATopMatrixAndSparseJson) {
    const AnalysisInput in = make_input();
    AnalysisOptions opt = quiet_options();
    opt.max_galleries = 1;
    opt.confused_pair_figures = 1;
    opt.top_matrix_classes = 2;
    opt.dense_confusion_max = 3;
    const Report r = build_report(in, opt);
    TempDir tmp;
    const fs::path out = tmp.path() / "report";
    write_report(r, in, opt, out.string());

    // T-shirt/top (4 of 10 wrong) is the weakest class; the one pair sheet is the most frequent
    // confusion, cat -> dog or T-shirt/top -> car (3 images each).
    ASSERT_FALSE(r.worst_classes.empty());
    EXPECT_EQ(r.worst_classes.front(), 2);
    ASSERT_EQ(r.pair_figures.size(), 1u);
    const int a = r.pair_figures[0].a, b = r.pair_figures[0].b;
    EXPECT_TRUE((a == 0 && b == 1) || (a == 2 && b == 3)) << a << " -> " << b;
    const std::set<int> drawn{2, a, b};
    EXPECT_EQ(r.galleries_drawn, static_cast<long long>(drawn.size()));
    const auto j = nlohmann::json::parse(slurp(out / "summary.json"));
    const std::string html = slurp(out / "index.html");
    const char* stems[] = {"class_0_cat", "class_1_dog", "class_2_T-shirt_top", "class_3_car"};
    for (int c = 0; c < 4; ++c) {
        const fs::path png = out / "worst_predictions" / (std::string(stems[c]) + ".png");
        EXPECT_EQ(fs::exists(png), drawn.count(c) == 1) << png;
        EXPECT_EQ(j["per_class"][c]["gallery"].is_null(), drawn.count(c) == 0) << c;
        EXPECT_EQ(html.find(stems[c]) != std::string::npos, drawn.count(c) == 1) << c;
    }
    EXPECT_NE(html.find("Galleries of 3 of the 4 classes"), std::string::npos);

    // The sub-matrix: the classes of the most frequent directed confusion (2 classes), in display order.
    std::vector<int> top{a, b};
    std::sort(top.begin(), top.end(), [&](int x, int y) {
        return std::find(r.class_order.begin(), r.class_order.end(), x) <
               std::find(r.class_order.begin(), r.class_order.end(), y);
    });
    EXPECT_EQ(r.top_matrix_classes, top);
    EXPECT_TRUE(is_png(out / "confusion_matrix_top.png"));
    EXPECT_EQ(j["confusion_matrix"]["top_classes"].get<std::vector<int>>(), top);

    // Sparse cells: every non-zero (true, predicted) count, recounted from the labels and the argmax
    // of the probabilities, and nothing else.
    std::map<std::pair<int, int>, long long> expected;
    for (size_t i = 0; i < in.n; ++i) {
        const float* p = &in.probs[i * in.num_classes];
        const int pred = static_cast<int>(std::max_element(p, p + in.num_classes) - p);
        ++expected[{in.labels[i], pred}];
    }
    const auto& cm = j["confusion_matrix"];
    EXPECT_EQ(cm["format"], "sparse");
    EXPECT_EQ(cm["classes"], 4);
    EXPECT_FALSE(cm.contains("counts"));
    std::map<std::pair<int, int>, long long> cells;
    for (const auto& c : cm["cells"]) cells[{c[0].get<int>(), c[1].get<int>()}] = c[2].get<long long>();
    EXPECT_EQ(cells, expected);
    // The CSV keeps the full matrix.
    const auto csv = read_csv(out / "confusion_matrix.csv");
    ASSERT_EQ(csv.size(), 5u);
    EXPECT_EQ(std::stoll(csv[1 + 0][1 + 1]), (expected[std::make_pair(0, 1)]));
}

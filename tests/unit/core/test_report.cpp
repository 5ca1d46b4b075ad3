// The analysis report end to end on a hand-built input: build_report + write_report into a temp
// folder, then read the files back and check them against the designed confusions and each other.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "camscope/report/analysis.hpp"
#include "camscope/util/error.hpp"

namespace fs = std::filesystem;
using namespace camscope;

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
    AnalysisInput in;
    in.model_path = "model.pt";
    in.model_kind = "scripted";
    in.dataset_path = "/data/toy";
    in.dataset_name = "toy";
    in.split = "test";
    in.layer = "layer4";
    in.method = "gradcam";
    in.class_names = {"cat", "dog", "T-shirt/top", "car"};
    in.coarse_names = {"animals", "things"};
    in.fine_to_coarse = {0, 0, 1, 1};
    in.num_classes = kK;
    in.fh = in.fw = kF;
    in.input_h = kH;
    in.input_w = kW;
    for (int c = 0; c < kK; ++c) {
        for (int j = 0; j < kPerClass; ++j) {
            const int i = static_cast<int>(in.n++);
            const int pred = designed_pred(c, j);
            in.indices.push_back(1000 + i);
            in.labels.push_back(c);
            std::vector<float> z(kK, 0.f);
            z[pred] = 2.f + 0.7f * (j % 5);
            if (pred != c) z[c] = 1.f;
            double s = 0;
            for (float v : z) s += std::exp(double(v));
            for (int k = 0; k < kK; ++k) {
                in.logits.push_back(z[k]);
                in.probs.push_back(static_cast<float>(std::exp(double(z[k])) / s));
            }
            // Correct: the predicted-class CAM sits in the centre; errors: in a corner, while the
            // true-class CAM is central.
            const auto cp = pred == c ? blob(1, 2) : blob(0, 0);
            const auto ct = pred == c ? cp : blob(2, 1);
            in.cam_pred.insert(in.cam_pred.end(), cp.begin(), cp.end());
            in.cam_true.insert(in.cam_true.end(), ct.begin(), ct.end());
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

AnalysisOptions quiet_options() {
    AnalysisOptions o;
    o.progress = false;
    return o;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::vector<std::vector<std::string>> read_csv(const fs::path& p) {  // no quoted fields in these names
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(slurp(p));
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::string cell;
        std::istringstream ls(line);
        while (std::getline(ls, cell, ',')) cells.push_back(cell);
        if (!line.empty() && line.back() == ',') cells.push_back("");
        rows.push_back(cells);
    }
    return rows;
}

bool is_png(const fs::path& p) {
    const std::string s = slurp(p);
    return s.size() > 8 && s.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

class TempDir {
public:
    TempDir() {
        path_ = fs::temp_directory_path() / ("camscope_report_" + std::to_string(::getpid()) + "_" +
                                             std::to_string(counter_++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
    static inline int counter_ = 0;
};

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

namespace {

/// Every file under `dir` (hidden ones too) with its bytes.
std::map<std::string, std::string> files_under(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) {
            std::ifstream f(e.path(), std::ios::binary);
            std::stringstream ss;
            ss << f.rdbuf();
            out[fs::relative(e.path(), dir).string()] = ss.str();
        }
    return out;
}

}  // namespace

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
    const auto before = files_under(out);
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
    EXPECT_EQ(files_under(out), before);
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
    EXPECT_EQ(files_under(out), (std::map<std::string, std::string>{{"holiday.jpg", "jpeg"}}));
    // A report folder with a file of the user's: replaced, the user's file kept.
    const fs::path rep = tmp.path() / "report";
    write_report(r, in, opt, rep.string());
    std::ofstream(rep / "notes.txt") << "mine";
    write_report(r, in, opt, rep.string());
    EXPECT_EQ(files_under(rep).at("notes.txt"), "mine");
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

TEST(Report, ClassFileStem) {
    EXPECT_EQ(class_file_stem(0, "T-shirt/top"), "class_0_T-shirt_top");
    EXPECT_EQ(class_file_stem(12, "large man-made"), "class_12_large_man-made");
}

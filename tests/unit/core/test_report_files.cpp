// write_report on the designed input: every file, read back and checked against the designed
// confusions and each other; a failure leaves the previous report as it was.
#include "report_designed.hpp"

using namespace report_test;

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

    // per_class_accuracy.csv: header, one row per class; support-weighted accuracy = top-1. The 95 %
    // intervals and the CAM shares (issue 25) come after the first nine columns, which stay where they were.
    const auto pc = read_csv(out / "per_class_accuracy.csv");
    ASSERT_EQ(pc.size(), 5u);
    EXPECT_EQ(pc[0], (std::vector<std::string>{"class_index", "class_name", "support", "accuracy", "precision", "f1",
                                               "mean_confidence", "most_confused_with", "most_confused_count",
                                               "accuracy_ci_lo", "accuracy_ci_hi", "precision_ci_lo",
                                               "precision_ci_hi", "centre_share_correct", "centre_share_correct_ci_lo",
                                               "centre_share_correct_ci_hi", "centre_share_wrong",
                                               "centre_share_wrong_ci_lo", "centre_share_wrong_ci_hi",
                                               "blank_cam_share", "blank_cam_share_ci_lo", "blank_cam_share_ci_hi"}));
    double weighted = 0, support = 0;
    for (size_t i = 1; i < pc.size(); ++i) {
        ASSERT_EQ(pc[i].size(), 22u);
        weighted += std::stod(pc[i][2]) * std::stod(pc[i][3]);
        support += std::stod(pc[i][2]);
    }
    EXPECT_NEAR(weighted / support, 31.0 / 40, 1e-6);
    EXPECT_EQ(pc[3][1], "T-shirt/top");
    EXPECT_NEAR(std::stod(pc[3][3]), 0.6, 1e-6);
    EXPECT_EQ(pc[3][7], "car");
    EXPECT_EQ(pc[3][8], "3");
    EXPECT_NEAR(std::stod(pc[3][9]), 0.312674, 1e-6);  // Wilson 6 of 10 (scipy)
    EXPECT_NEAR(std::stod(pc[3][10]), 0.831820, 1e-6);
    // Precision of "cat": predicted 7 + 2 + 1 = 10 times, right 7.
    EXPECT_NEAR(std::stod(pc[1][4]), 0.7, 1e-6);

    // most_confused_pairs.csv: every directed row equals its confusion-matrix cell, and every
    // non-zero off-diagonal cell has a row; symmetric rows add both directions.
    const auto pairs = read_csv(out / "most_confused_pairs.csv");
    ASSERT_GE(pairs.size(), 2u);
    EXPECT_EQ(pairs[0], (std::vector<std::string>{"kind", "rank", "a_index", "a_name", "b_index", "b_name", "count",
                                                  "rate", "count_ab", "count_ba", "rate_ci_lo", "rate_ci_hi"}));
    int directed = 0, symmetric = 0;
    for (size_t i = 1; i < pairs.size(); ++i) {
        const auto& row = pairs[i];
        ASSERT_EQ(row.size(), 12u);
        EXPECT_LT(std::stod(row[10]), std::stod(row[7]));  // the rate lies inside its interval
        EXPECT_GT(std::stod(row[11]), std::stod(row[7]));
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
    EXPECT_NE(recs.find("'cat' -> 'dog' 3 of 10 (30.0%, 95% CI 10.8\u2013" "60.3%; reverse 2"), std::string::npos) << recs;
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

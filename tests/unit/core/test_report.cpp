// The analysis report on a hand-built input (report_designed.hpp): build_report's model against
// the designed confusions, and its recommendations. Files: test_report_files.cpp; blank maps:
// test_report_blank.cpp.
#include "report_designed.hpp"

using namespace report_test;

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
    // Rules that must fire on these figures: pair rates of 30 %, whose Wilson intervals (10.8-60.3 %)
    // lie above 10 %. T-shirt/top at 60 % of 10 is below 77.5 − 15 but its interval reaches 83.2 %:
    // since the rules fire on the interval (issue 25) it is checked, not quoted; so is dog->cat
    // (20 % of 10, interval 5.7-51.0 %).
    std::map<std::string, int> rules;
    for (const auto& rec : r.recommendations) ++rules[rec.rule];
    EXPECT_EQ(rules["confused_pairs"], 1);
    for (const auto& rec : r.recommendations)
        if (rec.rule == "confused_pairs") {
            // cat->dog 30 %, T-shirt/top->car 30 % lie above 10 % with their intervals; dog->cat 20 % is
            // above but its interval is not; T-shirt/top->cat (10 %) is not above.
            EXPECT_NE(rec.text.find("2 directed pairs"), std::string::npos) << rec.text;
            EXPECT_NE(rec.text.find("1 more pair above the threshold has an interval reaching below it (e.g. "
                                    "'dog' -> 'cat' 20.0% of 10, 95% CI 5.7\u2013" "51.0%)"),
                      std::string::npos)
                << rec.text;
            EXPECT_EQ(rec.text.find("'T-shirt/top' -> 'cat'"), std::string::npos) << rec.text;
        }
    EXPECT_EQ(rules.count("worst_classes"), 0u);
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

TEST(Report, RecommendationsQuoteNoFigureOverTooFewImages) {
    const AnalysisInput in = make_input();
    // At the default minimum (30) the figures with a bootstrap interval or none are quoted only over
    // enough images (calibration and label errors: all 40); the CAM centre shares (9 errors) and the
    // superclass share (9 errors) are not, and a last note says so. The pair rates and class
    // accuracies have Wilson intervals, which decide instead of the minimum (issue 25): two pairs'
    // intervals lie above the 10 % threshold; no class's lies 15 points below top-1.
    AnalysisOptions opt;
    opt.progress = false;
    const Report r = build_report(in, opt);
    std::vector<std::string> rules;
    for (const auto& rec : r.recommendations) rules.push_back(rec.rule);
    EXPECT_EQ(rules, (std::vector<std::string>{"calibration", "confused_pairs", "label_errors", "too_few_images"}));
    const std::string& note = r.recommendations.back().text;
    EXPECT_EQ(note.find("images of the true class"), std::string::npos) << note;
    EXPECT_NE(note.find("CAM centre share not quoted: 31 of 31 correct and 9 of 9 wrong predictions"),
              std::string::npos)
        << note;
    EXPECT_EQ(note.find("class accuracies"), std::string::npos) << note;
    EXPECT_NE(note.find("superclass share not quoted: 9 errors"), std::string::npos) << note;
    // At a minimum of 3 the CAM IoU is quoted only where 3 errors have two maps.
    opt.rec_min_n = 3;
    AnalysisInput one_blank = in;
    flatten(one_blank, 26, true, false);  // T-shirt/top -> car: 2 of 3 errors keep both maps
    const Report q = build_report(one_blank, opt);
    std::string pairs;
    for (const auto& rec : q.recommendations)
        if (rec.rule == "confused_pairs") pairs = rec.text;
    EXPECT_NE(pairs.find("'cat' -> 'dog' 3 of 10 (30.0%, 95% CI 10.8\u2013" "60.3%; reverse 2), CAM IoU"),
              std::string::npos)
        << pairs;
    EXPECT_NE(pairs.find("over 3 of 3 errors"), std::string::npos) << pairs;
    EXPECT_NE(pairs.find("'T-shirt/top' -> 'car' 3 of 10 (30.0%, 95% CI 10.8\u2013" "60.3%; reverse 0). Add"),
              std::string::npos)
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

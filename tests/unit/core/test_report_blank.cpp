// Blank (degenerate) CAMs in the report: counted, marked, left out of every CAM statistic, drawn
// as the stand-in, and the warning names the measured better method and layer.
#include "report_designed.hpp"

using namespace report_test;

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
    EXPECT_NE(r.recommendations.front().text.find("45.0% (95% CI 30.7\u2013" "60.2%) of the gradcam maps of the "
                                                   "predicted class at layer 'layer4' have no positive evidence (18 "
                                                   "of 40 images"),
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

// CLI tests: run the real camscope binary on small committed fixtures and read what it wrote.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "camscope/image/image.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/util/npy.hpp"
#include "camscope/util/strings.hpp"
#include "cli_helpers.hpp"
#include "support/fixtures.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::testing;

namespace {

const nlohmann::json& manifest() { return fixture_manifest("manifest.json"); }

}  // namespace

TEST(Cli, HelpAndUsageErrors) {
    auto r = run("--help");
    EXPECT_EQ(r.code, 0);
    for (const char* c : {"demo", "analyze", "predict", "cam", "layers", "train"})
        EXPECT_NE(r.out.find(c), std::string::npos) << c;
    EXPECT_EQ(run("analyze --help").code, 0);
    EXPECT_EQ(run("--no-such-flag").code, 2);
    EXPECT_EQ(run("predict --data x").code, 2);  // --model missing
}

TEST(Cli, PredictWritesCsvMatchingPython) {
    auto dir = tmpdir("predict");
    auto r = run("-q predict -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 -o " +
                 (dir / "p.csv").string());
    ASSERT_EQ(r.code, 0) << r.out;
    auto rows = read_csv(dir / "p.csv");
    ASSERT_EQ(rows.size(), 201u);
    EXPECT_EQ(rows[0], (std::vector<std::string>{"index", "label", "label_name", "pred", "pred_name", "confidence",
                                                  "top5", "top5_prob"}));
    // Python's argmax of the same model's logits (tests/fixtures/make_fixtures.py).
    const auto logits = read_npy(kDir + "/tiny_cifar10_expected_preds.npy").as_float();
    const auto labels = manifest()["datasets"]["tiny_cifar10"]["test_labels"].get<std::vector<int>>();
    int correct = 0;
    for (size_t i = 1; i < rows.size(); ++i) {
        const float* l = &logits[(i - 1) * 10];
        const int py_pred = static_cast<int>(std::max_element(l, l + 10) - l);
        EXPECT_EQ(std::stoi(rows[i][3]), py_pred) << "row " << i;
        EXPECT_EQ(std::stoi(rows[i][1]), labels[i - 1]);
        EXPECT_EQ(split(rows[i][6], ';').size(), 5u);
        EXPECT_EQ(split(rows[i][6], ';')[0], rows[i][3]);
        correct += py_pred == labels[i - 1];
    }
    EXPECT_NE(r.out.find(format("top-1 accuracy %.2f%%", 100.0 * correct / 200)), std::string::npos) << r.out;
}

TEST(Cli, AnalyzeWritesACompleteConsistentReport) {
    auto dir = tmpdir("analyze");
    auto r = run("-q analyze -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    for (const char* f : {"confusion_matrix_full.png", "confusion_matrix.csv", "per_class_accuracy.csv",
                          "per_class_accuracy_interactive.html", "most_confused_pairs.csv", "top_confused_pairs.png",
                          "reliability_diagram.png", "analysis_summary.txt", "recommendations.txt", "summary.json",
                          "index.html"})
        EXPECT_TRUE(fs::exists(dir / f)) << f;
    for (const char* f : {"confusion_matrix_full.png", "top_confused_pairs.png", "reliability_diagram.png"})
        EXPECT_TRUE(is_png(dir / f)) << f;
    // A gallery for every class.
    int galleries = 0;
    for (const auto& e : fs::directory_iterator(dir / "worst_predictions")) {
        EXPECT_TRUE(is_png(e.path())) << e.path();
        ++galleries;
    }
    EXPECT_EQ(galleries, 10);
    // Accuracy agrees with Python's logits; confusion-matrix cells agree with the pair list.
    const auto logits = read_npy(kDir + "/tiny_cifar10_expected_preds.npy").as_float();
    const auto labels = manifest()["datasets"]["tiny_cifar10"]["test_labels"].get<std::vector<int>>();
    std::map<std::pair<int, int>, int> cells;
    int correct = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
        const float* l = &logits[i * 10];
        const int p = static_cast<int>(std::max_element(l, l + 10) - l);
        correct += p == labels[i];
        cells[{labels[i], p}]++;
    }
    std::ifstream sj(dir / "summary.json");
    auto j = nlohmann::json::parse(sj);
    EXPECT_EQ(j["schema_version"], 1);
    EXPECT_NEAR(j["overall"]["top1"].get<double>(), correct / 200.0, 1e-9);
    auto cm = read_csv(dir / "confusion_matrix.csv");
    ASSERT_EQ(cm.size(), 11u);
    for (int t = 0; t < 10; ++t)
        for (int p = 0; p < 10; ++p) EXPECT_EQ(std::stoi(cm[t + 1][p + 1]), (cells[std::make_pair(t, p)])) << t << "->" << p;
    auto pairs = read_csv(dir / "most_confused_pairs.csv");
    ASSERT_GT(pairs.size(), 1u);
    // The designed confusion cat(3) -> dog(5) is the top directed pair.
    const std::string joined = join(pairs[1], ",");
    EXPECT_NE(joined.find("cat"), std::string::npos) << joined;
    EXPECT_NE(joined.find("dog"), std::string::npos) << joined;
}

TEST(Cli, AnalyzeCifar100UsesSuperclasses) {
    auto dir = tmpdir("analyze100");
    auto r = run("-q analyze -m " + kDir + "/tiny_cifar100_model.pt -d " + kDir + "/tiny_cifar100 -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    std::ifstream sj(dir / "summary.json");
    auto j = nlohmann::json::parse(sj);
    EXPECT_EQ(j["overall"]["correct"].get<int>() + j["overall"]["errors"].get<int>(), 300);
    EXPECT_EQ(j["superclass"]["errors"], j["overall"]["errors"]);
    EXPECT_TRUE(j.contains("superclass")) << j.dump().substr(0, 400);
    int galleries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / "worst_predictions")) ++galleries;
    EXPECT_EQ(galleries, 100);
}

TEST(Cli, CamWritesOverlaysAndMaps) {
    auto dir = tmpdir("cam");
    auto r = run("-q cam -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir +
                 "/tiny_cifar10 -i 0,3-4 -t pred -t cat -o " + dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    auto maps = read_npy((dir / "cams.npy").string());
    EXPECT_EQ(maps.shape, (std::vector<std::int64_t>{6, 32, 32}));
    const auto v = maps.as_float();
    for (int i = 0; i < 6; ++i) {
        float mx = 0, mn = 1;
        for (int k = 0; k < 32 * 32; ++k) {
            mx = std::max(mx, v[i * 1024 + k]);
            mn = std::min(mn, v[i * 1024 + k]);
        }
        // pytorch-grad-cam's maps at the input size span [0, 1] exactly (second min-max after
        // the resize); an all-zero map is the only other possibility.
        EXPECT_EQ(mn, 0.f);
        EXPECT_TRUE(mx == 0.f || std::abs(mx - 1.f) < 1e-5f) << "image " << i << " max " << mx;
    }
    auto rows = read_csv(dir / "cams.csv");
    ASSERT_EQ(rows.size(), 7u);
    EXPECT_EQ(rows[0].back(), "degenerate");
    for (size_t i = 1; i < rows.size(); ++i) {
        EXPECT_TRUE(is_png(dir / rows[i][7])) << rows[i][7];
        // A map with no positive evidence is all zero at the input size too (cams.npy).
        const float mx = *std::max_element(v.begin() + (i - 1) * 1024, v.begin() + i * 1024);
        EXPECT_EQ(rows[i][8], mx > 0 ? "0" : "1") << "row " << i;
    }
    EXPECT_EQ(rows[4][6], "cat");  // slot "cat" for the first image: rows are grouped by target
    EXPECT_EQ(rows[4][1], "0");
}

TEST(Cli, CamMethodOptions) {
    // Every option reaches the engine: each gives valid maps, and they differ from plain Grad-CAM.
    const std::string base = "-q cam -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 -i 0-1 ";
    auto plain_dir = tmpdir("cam_plain");
    ASSERT_EQ(run(base + "-o " + plain_dir.string()).code, 0);
    const auto plain = read_npy((plain_dir / "cams.npy").string()).as_float();
    for (const std::string opts : {"--method scorecam --max-channels 4", "--method ablationcam --max-channels 4",
                                   "--method scorecam", "--eigen-smooth", "--aug-smooth",
                                   "--method layercam --eigen-smooth --aug-smooth"}) {
        SCOPED_TRACE(opts);
        auto dir = tmpdir("cam_opts");
        auto r = run(base + opts + " -o " + dir.string());
        ASSERT_EQ(r.code, 0) << r.out;
        const auto maps = read_npy((dir / "cams.npy").string());
        EXPECT_EQ(maps.shape, (std::vector<std::int64_t>{2, 32, 32}));
        const auto v = maps.as_float();
        double diff = 0;
        for (size_t k = 0; k < v.size(); ++k) {
            EXPECT_GE(v[k], 0.f);
            EXPECT_LE(v[k], 1.f + 1e-6f);
            diff = std::max(diff, std::abs(double(v[k]) - plain[k]));
        }
        EXPECT_GT(diff, 1e-3);
    }
    auto r = run(base + "--max-channels -3 -o /tmp/x");
    EXPECT_EQ(r.code, 2) << r.out;
}

TEST(Cli, FinerCamContrastAndAlpha) {
    // --contrast and --alpha reach the engine (the numbers are checked against pytorch-grad-cam's
    // FinerCAM by EngineCam.OptionCasesMatchPythonReference); bad values are usage errors.
    const std::string base =
        "-q cam -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 -i 0-3 --method finercam ";
    auto read = [](const std::filesystem::path& d) { return read_npy((d / "cams.npy").string()).as_float(); };
    auto a = tmpdir("finer_default"), b = tmpdir("finer_true"), c = tmpdir("finer_alpha");
    ASSERT_EQ(run(base + "-o " + a.string()).code, 0);
    auto r = run(base + "--contrast true -o " + b.string());
    ASSERT_EQ(r.code, 0) << r.out;
    r = run(base + "--contrast true --alpha 0.25 -o " + c.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto va = read(a), vb = read(b), vc = read(c);
    ASSERT_EQ(va.size(), 4u * 32 * 32);
    double dab = 0, dbc = 0;
    for (size_t k = 0; k < va.size(); ++k) {
        dab = std::max(dab, std::abs(double(va[k]) - vb[k]));
        dbc = std::max(dbc, std::abs(double(vb[k]) - vc[k]));
    }
    EXPECT_GT(dab, 1e-3);
    EXPECT_GT(dbc, 1e-3);
    r = run(base + "--contrast nosuchclass -o /tmp/x");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("nosuchclass"), std::string::npos) << r.out;
    r = run("-q cam -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 -i 0 --contrast cat -o /tmp/x");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("finercam"), std::string::npos) << r.out;
    for (const char* bad : {"nan", "-1", "inf", "x"}) {
        r = run(base + "--alpha " + bad + " -o /tmp/x");
        EXPECT_EQ(r.code, 2) << bad << ": " << r.out;
    }
}

TEST(Cli, CamClassArgumentsAreUsageErrors) {
    // -t and --contrast go through data/class_ref (the server's and Python's rule and wording): an
    // index of any size is range-checked (std::stoi threw std::out_of_range here: exit 1), an unknown
    // name lists the close ones; every refusal is a usage error (exit 2) before any file is written.
    const std::string base = "-q cam -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 -i 0 ";
    const auto out = tmpdir("cam_class_args");
    auto r = run(base + "-t 99999999999 -o " + out.string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_EQ(trim(r.out),
              "camscope: -t/--target: class '99999999999' out of range: the model has 10 classes (expected pred, true, "
              "a class index 0 to 9 or a class name)");
    EXPECT_FALSE(std::filesystem::exists(out / "cams.csv"));
    r = run(base + "-t 10 -o " + out.string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("class '10' out of range"), std::string::npos) << r.out;
    r = run(base + "-t kat -o " + out.string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("-t/--target: unknown class 'kat' (did you mean 'cat'?)"), std::string::npos) << r.out;
    r = run(base + "--method finercam --contrast 99999999999 -o " + out.string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--contrast: class '99999999999' out of range"), std::string::npos) << r.out;
    r = run(base + "--method finercam --contrast pred -o " + out.string());
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--contrast: 'pred' names no class here"), std::string::npos) << r.out;
    // Names ignore case when one name matches so; the slot is the class, whatever its spelling.
    r = run(base + "-t CAT -t 3 -o " + out.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto rows = read_csv((out / "cams.csv").string());
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[1][5], "3");
    EXPECT_EQ(rows[2][5], "3");
}

TEST(Cli, ErrorsNameTheFileAndTheProblem) {
    auto r = run("predict -m /nonexistent/m.pt -d " + kDir + "/tiny_cifar10");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("/nonexistent/m.pt: no such model file"), std::string::npos) << r.out;
    r = run("predict -m " + kDir + "/not_a_model.pt -d " + kDir + "/tiny_cifar10");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("not a TorchScript model"), std::string::npos) << r.out;
    r = run("predict -m " + kDir + "/tiny_cifar100_model.pt -d " + kDir + "/tiny_cifar10");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("outputs 100 classes but the dataset"), std::string::npos) << r.out;
    r = run("cam -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 -l layer9 -o /tmp/x");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.out.find("layer 'layer9' not found"), std::string::npos) << r.out;
    r = run("predict -m " + kDir + "/tiny_cifar10_model.pt -d /nonexistent/data");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("/nonexistent/data"), std::string::npos) << r.out;
}

TEST(Cli, LayersMarksTheAutomaticLayer) {
    auto r = run("layers " + kDir + "/resnet_scripted.pt --data " + kDir + "/tiny_cifar10");
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("layer2.1.conv2"), std::string::npos);
    auto pos = r.out.find("<- automatic CAM layer");
    ASSERT_NE(pos, std::string::npos);
    const auto line_start = r.out.rfind('\n', pos) + 1;
    EXPECT_EQ(r.out.substr(line_start, 7), "layer3 ");
}

TEST(Cli, TrainSavesAModelEveryCommandLoads) {
    auto dir = tmpdir("train");
    auto r = run("-q train -d " + kDir + "/tiny_cifar10 --arch cnn --epochs 1 --limit 64 -b 32 -o " +
                 (dir / "m.pt").string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("test accuracy"), std::string::npos) << r.out;
    r = run("-q predict -m " + (dir / "m.pt").string() + " -d " + kDir + "/tiny_cifar10 -o " + (dir / "p.csv").string());
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(read_csv(dir / "p.csv").size(), 201u);
}

TEST(Cli, DemoModelGradCamsShowEvidence) {
    // The demo's model is the built-in cnn with a global-average-pooling head: the predicted class's
    // Grad-CAM is then the class's own evidence map, positive wherever its logit exceeds its bias.
    // The demo command itself, on the real Fashion-MNIST, but trained briefly (6,000 images, one
    // epoch: seconds instead of minutes) and analysing 2,000 test images; at least 95 % of the
    // predicted-class maps must show evidence (the full demo: docs/cam-methods.md).
    const std::string data = "/usr/share/datasets/fashion-mnist";
    ASSERT_TRUE(fs::exists(data + "/t10k-images-idx3-ubyte.gz"))
        << data << ": Fashion-MNIST missing; scripts/install-deps.sh installs dataset-fashion-mnist";
    auto dir = tmpdir("demo_gap");
    auto r = run("-q demo --train-limit 6000 --epochs 1 --limit 2000 --faithfulness-n 0 --threads 2 -o " +
                 dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto j = nlohmann::json::parse(slurp(dir / "report/summary.json"));
    EXPECT_EQ(j["run"]["layer"], "block4");
    EXPECT_EQ(j["run"]["method"], "gradcam");
    EXPECT_GT(j["overall"]["top1"].get<double>(), 0.6) << "the short training did train (74 % here; chance: 10 %)";
    const auto& maps = j["degenerate_cams"]["predicted_class_maps"];
    ASSERT_EQ(maps["maps"], 2000);
    EXPECT_LE(maps["degenerate"].get<long long>(), 100) << "at most 5 % of 2,000 maps blank: " << maps;
    EXPECT_EQ(j["degenerate_cams"]["warning"], false);

    // The report's per-image flags agree with the maps themselves: `camscope cam` on the first 300
    // images, a map with no positive evidence being all zero at the input size.
    auto cams = tmpdir("demo_gap_cams");
    r = run("-q cam -m " + (dir / "model.pt").string() + " -d " + data + " -i 0-299 -t pred -o " + cams.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto v = read_npy((cams / "cams.npy").string()).as_float();
    ASSERT_EQ(v.size(), 300u * 28 * 28);
    const auto explorer = parse_explorer_data_js(slurp(dir / "report/explorer/data.js"), "data.js");
    int blank = 0;
    for (size_t i = 0; i < 300; ++i) {
        const bool zero = *std::max_element(v.begin() + i * 784, v.begin() + (i + 1) * 784) <= 0.f;
        blank += zero;
        EXPECT_EQ(explorer["rows"]["blank"][i].get<int>() & 1, zero ? 1 : 0) << "image " << i;
    }
    EXPECT_LE(blank, 15);
}

TEST(Cli, PairSheetsExplainWhyThePredictionAndNotTheTrueClass) {
    // analyze computes Finer-CAM (main = predicted, contrast = true, alpha 1) for the errors of the
    // confused-pair sheets: the offline explorer carries them (img/<row>_finer.png) and each is the
    // very overlay `camscope cam --method finercam -t pred --contrast true` draws for that image.
    auto dir = tmpdir("pairs_finer");
    auto r = run("-q analyze -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 --faithfulness-n 0 -o " +
                 dir.string());
    ASSERT_EQ(r.code, 0) << r.out;
    const auto explorer = parse_explorer_data_js(slurp(dir / "explorer/data.js"), "data.js");
    int checked = 0;
    for (const auto& [row, e] : explorer["images"].items()) {
        if (!e.contains("finer") || checked >= 3) continue;
        const int index = explorer["rows"]["index"][std::stoi(row)].get<int>();
        const int label = explorer["rows"]["label"][std::stoi(row)].get<int>();
        const int pred = explorer["rows"]["pred"][std::stoi(row)].get<int>();
        ASSERT_NE(label, pred) << "only errors have a contrastive map";
        auto cams = tmpdir("pairs_finer_cam");
        auto c = run("-q cam -m " + kDir + "/tiny_cifar10_model.pt -d " + kDir + "/tiny_cifar10 -i " +
                     std::to_string(index) + " -t pred --method finercam --contrast true -o " + cams.string());
        ASSERT_EQ(c.code, 0) << c.out;
        const auto rows = read_csv(cams / "cams.csv");
        ASSERT_EQ(rows.size(), 2u);
        const Image ia = read_png(dir / "explorer" / e["finer"].get<std::string>()), ib = read_png(cams / rows[1][7]);
        EXPECT_EQ(ia.width, ib.width);
        EXPECT_EQ(ia.pixels, ib.pixels) << "row " << row << " image " << index;
        ++checked;
    }
    EXPECT_GE(checked, 1) << "the tiny set has confused pairs";
}

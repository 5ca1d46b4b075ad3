// camscope_bench --analyze (the whole `camscope analyze`, stage by stage, beside the limit forward)
// and --render-only (write_report alone on a synthetic report), each followed by the report drawn
// on one thread and on all.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "bench.hpp"
#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/engine/train.hpp"
#include "camscope/pipeline/analyze.hpp"
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/report/analysis.hpp"
#include "camscope/report/identity.hpp"

namespace camscope_bench {

namespace {


// CIFAR-100's superclass of each fine label (REFERENCE.md; the reader assigns the same table).
constexpr int kFineToCoarse[100] = {
    4,  1,  14, 8,  0,  6,  7,  7,  18, 3,  3,  14, 9,  18, 7,  11, 3,  9,  7,  11, 6,  11, 5,  10, 7,
    6,  13, 15, 3,  15, 0,  11, 1,  10, 12, 14, 16, 9,  11, 5,  5,  19, 8,  8,  15, 13, 14, 17, 18, 10,
    16, 4,  17, 4,  2,  0,  17, 4,  18, 17, 10, 3,  2,  12, 12, 16, 12, 1,  9,  19, 2,  10, 0,  1,  16,
    12, 9,  13, 15, 13, 16, 19, 2,  4,  6,  19, 5,  5,  8,  19, 18, 1,  2,  15, 6,  0,  17, 8,  14, 13};

/// dir/test.bin in the CIFAR-100 binary format: n records (coarse label, fine label, 3072 pixel
/// bytes), 100 classes in a shuffled, balanced order; each image a class colour plus a smooth
/// random pattern and pixel noise (content does not matter for speed, only the format and size).
void write_synthetic_cifar100(const fs::path& dir, size_t n, std::uint64_t seed) {
    fs::create_directories(dir);
    std::mt19937 rng(static_cast<unsigned>(seed * 7919 + 1));
    std::vector<int> labels(n);
    for (size_t i = 0; i < n; ++i) labels[i] = static_cast<int>(i % 100);
    std::shuffle(labels.begin(), labels.end(), rng);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::ofstream f(dir / "test.bin", std::ios::binary);
    std::vector<unsigned char> rec(2 + 3072);
    for (size_t i = 0; i < n; ++i) {
        const int fine = labels[i];
        rec[0] = static_cast<unsigned char>(kFineToCoarse[fine]);
        rec[1] = static_cast<unsigned char>(fine);
        const float fx = 0.05f + 0.3f * u(rng), fy = 0.05f + 0.3f * u(rng), ph = 6.3f * u(rng);
        for (int c = 0; c < 3; ++c) {
            const float base = 40.f + 175.f * static_cast<float>((fine * (c + 3) * 37) % 100) / 100.f;
            for (int p = 0; p < 1024; ++p) {
                const float v = base + 50.f * std::sin(fx * (p % 32) + fy * (p / 32) + ph + c) + 25.f * (u(rng) - 0.5f);
                rec[2 + c * 1024 + p] = static_cast<unsigned char>(std::clamp(v, 0.f, 255.f));
            }
        }
        f.write(reinterpret_cast<const char*>(rec.data()), static_cast<std::streamsize>(rec.size()));
    }
    if (!f) throw std::runtime_error("cannot write " + (dir / "test.bin").string());
}

/// The report drawn --rounds times on one thread and on all, interleaved: each stage's best round,
/// and the CPU time of the best round's write_report (more than its wall time: more than one core
/// at work). The gain of drawing the figures in parallel.
void compare_drawing(const camscope::Report& r, const camscope::AnalysisInput& in, camscope::AnalysisOptions ro,
                     const Config& cfg, const fs::path& tmpdir) {
    struct Drawn {
        std::map<std::string, double> best;
        double wall = 0, cpu = 0;
    };
    std::map<int, Drawn> drawn;
    const int all = ro.threads;
    if (all <= 1) return;
    for (int round = 0; round < cfg.rounds; ++round)
        for (int t : {1, all}) {
            std::map<std::string, double> secs;
            ro.threads = t;
            ro.on_stage = [&](const std::string& stage, double s) { secs[stage] = s; };
            const double c0 = cpu_seconds();
            const auto w0 = std::chrono::steady_clock::now();
            camscope::write_report(r, in, ro, (tmpdir / ("report-" + std::to_string(t))).string());
            const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
            Drawn& d = drawn[t];
            for (const auto& [stage, s] : secs)
                if (!d.best.count(stage) || s < d.best[stage]) d.best[stage] = s;
            if (d.wall == 0 || wall < d.wall) {
                d.wall = wall;
                d.cpu = cpu_seconds() - c0;
            }
        }
    printf("  the report drawn again, best of %d rounds:         1 thread  %2d threads    gain\n", cfg.rounds, all);
    for (const char* stage : {"galleries", "pair figures", "explorer"}) {
        const double a = drawn[1].best[stage], b = drawn[all].best[stage];
        printf("    %-48s %8.2f s %8.2f s %6.2fx\n", stage, a, b, b > 0 ? a / b : 0.0);
    }
    printf("    %-48s %8.2f s %8.2f s %6.2fx   (CPU %.2f s and %.2f s)\n", "write_report", drawn[1].wall,
           drawn[all].wall, drawn[all].wall > 0 ? drawn[1].wall / drawn[all].wall : 0.0, drawn[1].cpu, drawn[all].cpu);
    fflush(stdout);
}

}  // namespace

void full_analyze(const Config& cfg, const fs::path& tmpdir) {
    using namespace camscope;
    std::string data_path = cfg.analyze_data;
    if (data_path.empty()) {
        if (cfg.analyze_n == 0) throw std::invalid_argument("--analyze-n must be positive for the synthetic set");
        data_path = (tmpdir / "cifar100-synthetic").string();
        write_synthetic_cifar100(data_path, cfg.analyze_n, cfg.seed);
    }
    std::unique_ptr<Dataset> data = open_dataset(data_path);
    const size_t n = cfg.analyze_data.empty() || cfg.analyze_n == 0 ? data->size()
                                                                      : std::min(cfg.analyze_n, data->size());
    const int k = static_cast<int>(data->num_classes());
    const int batch = *std::max_element(cfg.batches.begin(), cfg.batches.end());
    InputSpec spec = resolve_input_spec(ModelInfo{}, data->info(), {});
    const std::string path = (tmpdir / ("analyze_" + cfg.arch + ".pt")).string();
    save_untrained(cfg.arch, spec, k, data->info().class_names, cfg.seed, path);
    EngineOptions eo;
    eo.threads = cfg.threads;
    eo.device = cfg.device;
    eo.quiet = true;
    Model model = Model::load(path, eo);
    spec = resolve_input_spec(model.info(), data->info(), {});
    data = fit_to_model(model, std::move(data), spec, true);  // as `camscope analyze` (cmd_analyze.cpp)
    const DatasetInfo& di = data->info();
    const std::string layer = model.resolve_layer("", spec);
    printf("== full analyze, %zu images, %d classes: %s (%s%s), %s untrained (seed %llu), Grad-CAM at %s, batch %d, "
           "%d threads\n",
           n, k, cfg.analyze_data.empty() ? "synthetic CIFAR-100 test.bin" : cfg.analyze_data.c_str(), di.format.c_str(),
           di.coarse_names.empty() ? "" : ", with superclasses", cfg.arch.c_str(),
           static_cast<unsigned long long>(cfg.seed), layer.c_str(), batch, model.threads());
    fflush(stdout);

    // The limit: the frozen + optimize_for_inference forward of the same model over the same n
    // images (decoding and normalisation not timed), best of one run before and one after.
    torch::jit::Module fast = load_limit_module(path, cfg.device);
    const size_t per = static_cast<size_t>(spec.channels) * spec.height * spec.width;
    // Seconds `run(x, m, labels)` takes summed over the n images in batches, the inputs prepared
    // (decoded, normalised) outside the timed part.
    auto timed_batches = [&](const std::function<void(std::vector<float>&, size_t, const std::vector<int>&)>& run) {
        double secs = 0;
        std::vector<float> x;
        std::vector<int> labels;
        for (size_t start = 0; start < n; start += static_cast<size_t>(batch)) {
            const size_t m = std::min<size_t>(static_cast<size_t>(batch), n - start);
            x.resize(m * per);
            labels.resize(m);
            for (size_t i = 0; i < m; ++i) {
                const auto s = data->get(start + i);
                to_input(s.image, spec, x.data() + i * per);
                labels[i] = s.label;
            }
            const auto t0 = Clock::now();
            run(x, m, labels);
            secs += std::chrono::duration<double>(Clock::now() - t0).count();
        }
        return secs;
    };
    auto limit_pass = [&] {
        return timed_batches([&](std::vector<float>& x, size_t m, const std::vector<int>&) {
            auto t = torch::from_blob(x.data(), {static_cast<long>(m), spec.channels, spec.height, spec.width},
                                      torch::kFloat32);
            torch::jit::GraphOptimizerEnabledGuard g(true);
            torch::NoGradGuard ng;
            // Host in, host out (a CUDA device finishes its work before the copy back returns).
            auto y = first_tensor(fast.forward({t.to(torch::Device(cfg.device))})).to(torch::kCPU).contiguous();
            g_sink = g_sink + y.data_ptr<float>()[0];
        });
    };
    limit_pass();  // warm-up: the first forwards of a TorchScript module are slow (profiling)
    const double limit_before = limit_pass();

    // The analysis, as cmd_analyze.cpp runs it: the run identity, then the library's analyze_pass,
    // analyze_report and write_analysis with the CLI's settings (chunks kept in <out>.partial, the
    // store written into the report), each stage timed by this bench's clock when its hook fires.
    std::vector<std::pair<std::string, double>> stages;
    const auto t0 = Clock::now();
    auto lap = [last = t0]() mutable {
        const auto now = Clock::now();
        const double s = std::chrono::duration<double>(now - last).count();
        last = now;
        return s;
    };
    const fs::path out = tmpdir / "report";
    check_report_destination(out.string());
    RunIdentity identity;
    identify_model(identity, path, model.info().logits);
    identify_dataset(identity, *data, data_path);
    identify_input(identity, spec);
    stages.emplace_back("run identity (model SHA-256, dataset fingerprint)", lap());
    AnalyzeSettings as;
    as.cam.method = "gradcam";
    as.cam.layers = {layer};
    as.batch_size = batch;
    as.limit = n;
    as.faithfulness_n = 100;  // the CLI's default --faithfulness-n (capped by the quick check's rule)
    as.progress = false;
    as.quiet = true;
    as.store.chunk_dir = chunk_folder(out.string());
    as.store.in_report = true;
    as.on_stage = [&](const std::string& stage, double) { stages.emplace_back(stage, lap()); };
    as.report.on_stage = [&](const std::string& stage, double secs) { stages.emplace_back("write_report: " + stage, secs); };
    Pass pass = analyze_pass(model, *data, spec, as, identity, path, data_path);
    const Analysis an = analyze_report(model, *data, spec, as, std::move(pass));
    lap();
    write_analysis(an, out.string());
    lap();
    const double total = std::chrono::duration<double>(Clock::now() - t0).count();
    const Report& r = an.report;
    const AnalysisInput& in = an.input;
    // The hooks' stage names, as this table has always called them.
    for (auto& [name, secs] : stages) {
        char what[160];
        if (name == "pass") {
            name = "predict + Grad-CAM pass (analyze_pass)";
        } else if (name == "report model") {
            name = "report model (build_report)";
            if (r.failure_modes)  // a stage of build_report: its share of the row above
                snprintf(what, sizeof what, "report model (build_report; failure modes %.2f s)", r.failure_modes->seconds),
                    name = what;
        } else if (name == "contrast CAMs") {
            snprintf(what, sizeof what, "Finer-CAM of the pair sheets (%zu maps)", r.contrast_cams.size());
            name = what;
        } else if (name == "flip test" && r.flips) {
            snprintf(what, sizeof what, "flip test (%lld of %zu errors, forwards only)", r.flips->overall.tested,
                     r.flips->errors);
            name = what;
        } else if (name == "sanity gate" && r.sanity) {
            snprintf(what, sizeof what, "sanity gate (%lld images, %zu steps x %d draws)", r.sanity->n,
                     r.sanity->cascade.size(), r.sanity->draws);
            name = what;
        } else if (name == "faithfulness" && r.faithfulness) {
            snprintf(what, sizeof what, "faithfulness check (%zu images, %zu methods%s)", r.faithfulness->n_images,
                     r.faithfulness->methods.size(),
                     r.faithfulness->layer_checks.empty() ? "" : ", blank maps counted at other layers");
            name = what;
        }
    }
    const double limit_after = limit_pass();
    const double limit = std::min(limit_before, limit_after);
    // The engine alone over the same images, inputs prepared as for the limit (decoding not timed):
    // Grad-CAM of the predicted and the true class, as run_pass asks, warm (after the pass). The
    // pass's row minus this one is reading the data, collecting the results and the one-time
    // preparation of the split forward (freezing and optimising the head, its first profiled runs:
    // 0.2-0.3 s for resnet56 here).
    auto engine_pass = [&] {
        return timed_batches([&](std::vector<float>& x, size_t m, const std::vector<int>& labels) {
            CamRequest req;
            req.method = "gradcam";
            req.layers = {layer};
            req.targets = {std::vector<int>(m, -1), labels};
            auto res = model.run(x.data(), static_cast<int>(m), spec, &req);
            g_sink = g_sink + res.cams[0];
        });
    };
    const double engine_only = std::min(engine_pass(), engine_pass());  // best of two, as the limit

    size_t files = 0, bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(out))
        if (e.is_regular_file()) {
            ++files;
            bytes += e.file_size();
        }
    printf("  %-52s %9s %9s\n", "stage", "seconds", "x limit");
    printf("  %s\n", std::string(72, '-').c_str());
    printf("  %-52s %9.2f %9.2f   (%.0f img/s; runs: %.2f s before, %.2f s after)\n", "(b) limit forward, same images",
           limit, 1.0, n / limit, limit_before, limit_after);
    printf("  %-52s %9.2f %9.2f\n", "(engine) Model::run pred + true, same images", engine_only, engine_only / limit);
    for (const auto& [name, secs] : stages) printf("  %-52s %9.2f %9.2f\n", name.c_str(), secs, secs / limit);
    printf("  %-52s %9.2f %9.2f\n", "total (full analyze)", total, total / limit);
    if (r.faithfulness)
        printf("  faithfulness: %zu perturbed inputs, %zu scored (the rest shared between methods); %s\n",
               r.faithfulness->inputs, r.faithfulness->inputs_scored, faith::headline(*r.faithfulness).c_str());
    printf("  report: %zu files, %.1f MB\n", files, bytes / 1e6);
    printf("  peak RSS so far: %.1f MiB\n", peak_rss_mib());
    compare_drawing(r, in, an.options, cfg, tmpdir);
    printf("\n");
    fflush(stdout);
}

/// --render-only: a synthetic report (K classes, n images of 32×32 with 8×8 CAMs, no model) drawn
/// by write_report on one thread and on all: the rendering alone, in seconds.
void render_only(const Config& cfg, const fs::path& tmpdir) {
    using namespace camscope;
    const int k = cfg.classes, side = 32, f = 8;
    const size_t n = cfg.analyze_n;
    AnalysisInput in;
    in.model_path = "synthetic";
    in.dataset_name = "synthetic";
    in.split = "test";
    in.layer = "layer3";
    in.method = "gradcam";
    for (int c = 0; c < k; ++c) in.class_names.push_back("class" + std::to_string(c));
    in.num_classes = k;
    in.fh = in.fw = f;
    in.input_h = in.input_w = side;
    std::mt19937 rng(static_cast<unsigned>(cfg.seed));
    std::normal_distribution<float> nd(0.f, 1.f);
    for (size_t i = 0; i < n; ++i) {
        const int label = static_cast<int>(i % static_cast<size_t>(k));
        in.indices.push_back(static_cast<int>(i));
        in.labels.push_back(label);
        std::vector<double> z(static_cast<size_t>(k));
        for (auto& v : z) v = nd(rng);
        z[static_cast<size_t>(label)] += 2.5;  // about half right, with confusions everywhere
        double sum = 0;
        for (double v : z) sum += std::exp(v);
        for (double v : z) {
            in.logits.push_back(static_cast<float>(v));
            in.probs.push_back(static_cast<float>(std::exp(v) / sum));
        }
        for (int p = 0; p < f * f; ++p) {
            in.cam_pred.push_back(std::abs(nd(rng)));
            in.cam_true.push_back(std::abs(nd(rng)));
        }
    }
    in.n = n;
    in.load_image = [](size_t row) {
        Image img{side, side, 3, std::vector<std::uint8_t>(side * side * 3)};
        for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(row * 31 + i * 7);
        return img;
    };
    AnalysisOptions ro;
    ro.progress = false;
    ro.threads = configure_threads(cfg.threads);
    const auto t0 = std::chrono::steady_clock::now();
    const Report r = build_report(in, ro);
    const double built = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("== rendering only: a synthetic report of %zu images, %d classes (no model); build_report %.2f s\n", n, k,
           built);
    compare_drawing(r, in, ro, cfg, tmpdir);
    printf("\n");
}

}  // namespace camscope_bench

// camscope_bench: throughput of camscope's predict and Grad-CAM paths against plain LibTorch on a
// built-in CIFAR ResNet (default ResNet-18, 3x32x32, 100 classes, untrained weights from a seed).
//
// Rows, per batch size (all in ONE process, same input, same thread count):
//   (a) plain    : torch::jit::load + eval(), forward under torch::NoGradGuard (LibTorch defaults)
//   (b) limit    : a separate load, frozen + torch::jit::optimize_for_inference, forward under
//                  NoGradGuard (the fastest forward LibTorch gives here)
//   (c) predict  : camscope::Model::run(x, n, spec) without CAM
//   (d) gradcam  : Model::run with a CamRequest (gradcam, auto layer, one slot of predicted classes)
//   (e) <method> : the other registered CAM methods (largest batch only; Score-CAM and
//                  Ablation-CAM with --max-channels 16: one forward per image and channel)
// Each row: warm-up iterations, then timed until both --seconds and --min-iters are reached.
// The target line is informational only: the exit code never depends on the numbers.
//
// --dataset-rss PATH streams a dataset through run_pass with the built-in "cnn" (1x28x28,
// 10 classes) first, and reports current/peak RSS at each stage.
//
// --analyze adds the row "full analyze, N images, K classes": `camscope analyze`'s own library
// calls (the run identity, then pipeline/analyze.hpp's analyze_pass, analyze_report and
// write_analysis, timed stage by stage through their stage hooks) on a synthetic
// CIFAR-100-format test set the bench writes itself (--analyze-n random images, 100 classes,
// superclass labels) or on --analyze-data PATH, with --arch's untrained weights, and the time of
// each stage beside the limit forward (b) over the same images; then the report is drawn again
// --rounds times on one thread and on all, interleaved, for the gain of drawing the figures in
// parallel. --render-only draws a synthetic report alone.
//
// This file: the command line, the environment lines and the throughput rows; the other cases are
// in dataset_rss.cpp and analyze.cpp (bench.hpp).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "bench.hpp"
#include "camscope/engine/builtin.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/engine/train.hpp"
#include "camscope/util/allocator.hpp"
#include "camscope/util/error.hpp"

using namespace camscope_bench;

namespace {

void usage(FILE* f) {
    fprintf(f,
            "usage: camscope_bench [options]\n"
            "  --threads N        intra-op threads (default: all cores, via camscope::configure_threads)\n"
            "  --clock C          wall (default) | cpu: time rows by the process's CPU time, which another\n"
            "                     process's load hardly changes (use with --threads 1 on a shared machine)\n"
            "  --batch LIST       batch sizes, comma separated (default 1,64)\n"
            "  --seconds S        minimum timed seconds per row and round (default 2; --quick: 0.3)\n"
            "  --rounds R         rounds over all rows, interleaved; each row reports its best round\n"
            "                     (default 3; --quick: 1)\n"
            "  --warmup N         untimed iterations before each row's first round (default 2; --quick: 1)\n"
            "  --min-iters N      minimum timed iterations per row and round (default 2; --quick: 1)\n"
            "  --arch A           resnet18 (default) | resnet20 | resnet56\n"
            "  --device D         cpu (default) | cuda | cuda:N: every row on that device (inputs are copied\n"
            "                     from host memory inside each timed call, results copied back, as camscope does)\n"
            "  --classes K        number of classes (default 100)\n"
            "  --seed N           weight seed (default 1)\n"
            "  --model PATH       a TorchScript classifier instead of --arch (e.g. scripts/export_torchvision.py\n"
            "                     vit_b_16), input 3 x --size x --size (default 224), ImageNet normalisation\n"
            "  --no-methods       skip the other CAM methods (rows (e))\n"
            "  --quick            smoke run: short timings\n"
            "  --dataset-rss PATH stream a dataset through run_pass with the built-in cnn (1x28x28,\n"
            "                     10 classes), reporting RSS before/after (e.g.\n"
            "                     /usr/share/datasets/fashion-mnist)\n"
            "  --dataset-split S  test (default) | train\n"
            "  --dataset-cams     also compute CAMs (predicted + true class) in the dataset pass\n"
            "  --skip-bench       skip the throughput rows (only --dataset-rss, --analyze, --render-only)\n"
            "  --analyze          the row \"full analyze\": camscope analyze's library calls on a\n"
            "                     synthetic CIFAR-100 test set (or --analyze-data), stage by stage,\n"
            "                     each also as a ratio to the limit forward over the same images;\n"
            "                     batch = the largest --batch; then the report drawn --rounds more\n"
            "                     times on 1 thread and on all (the gain of drawing in parallel)\n"
            "  --analyze-n N      images of the synthetic set (default 10000); with --analyze-data,\n"
            "                     the first N (0 = all)\n"
            "  --analyze-data P   analyse this dataset instead (a model of --arch with its class count)\n"
            "  --render-only      write_report alone on a synthetic report (--analyze-n images,\n"
            "                     --classes classes, no model), --rounds times on 1 thread and on all\n"
            "Run with OMP_WAIT_POLICY=PASSIVE on shared machines.\n");
}

std::vector<int> parse_list(const std::string& s) {
    std::vector<int> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        int v = std::stoi(item);
        if (v <= 0) throw std::invalid_argument("batch sizes must be positive");
        out.push_back(v);
    }
    if (out.empty()) throw std::invalid_argument("empty --batch list");
    return out;
}

Config parse(int argc, char** argv) {
    Config c;
    bool seconds_set = false, warmup_set = false, iters_set = false, rounds_set = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                fprintf(stderr, "camscope_bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        try {
            if (a == "--threads") c.threads = std::stoi(value());
            else if (a == "--batch") c.batches = parse_list(value());
            else if (a == "--seconds") { c.seconds = std::stod(value()); seconds_set = true; }
            else if (a == "--warmup") { c.warmup = std::stoi(value()); warmup_set = true; }
            else if (a == "--min-iters") { c.min_iters = std::stoi(value()); iters_set = true; }
            else if (a == "--rounds") { c.rounds = std::stoi(value()); rounds_set = true; }
            else if (a == "--arch") c.arch = value();
            else if (a == "--device") c.device = value();
            else if (a == "--model") c.model = value();
            else if (a == "--size") c.size = std::stoi(value());
            else if (a == "--classes") c.classes = std::stoi(value());
            else if (a == "--seed") c.seed = std::stoull(value());
            else if (a == "--no-methods") c.all_methods = false;
            else if (a == "--quick") c.quick = true;
            else if (a == "--clock") {
                const std::string v = value();
                if (v != "wall" && v != "cpu") throw std::invalid_argument("expected wall or cpu");
                Clock::cpu = v == "cpu";
            }
            else if (a == "--dataset-rss") c.dataset_rss = value();
            else if (a == "--dataset-split") c.dataset_split = value();
            else if (a == "--dataset-cams") c.dataset_cams = true;
            else if (a == "--skip-bench") c.skip_bench = true;
            else if (a == "--analyze") c.analyze = true;
            else if (a == "--render-only") c.render_only = true;
            else if (a == "--analyze-n") c.analyze_n = std::stoul(value());
            else if (a == "--analyze-data") { c.analyze_data = value(); c.analyze = true; }
            else if (a == "-h" || a == "--help") { usage(stdout); std::exit(0); }
            else {
                fprintf(stderr, "camscope_bench: unknown option %s\n", a.c_str());
                usage(stderr);
                std::exit(2);
            }
        } catch (const std::invalid_argument& e) {
            fprintf(stderr, "camscope_bench: bad value for %s: %s\n", a.c_str(), e.what());
            std::exit(2);
        } catch (const std::out_of_range&) {
            fprintf(stderr, "camscope_bench: value out of range for %s\n", a.c_str());
            std::exit(2);
        }
    }
    if (c.quick) {
        if (!seconds_set) c.seconds = 0.3;
        if (!warmup_set) c.warmup = 1;
        if (!iters_set) c.min_iters = 1;
        if (!rounds_set) c.rounds = 1;
    }
    if (c.arch != "resnet18" && c.arch != "resnet20" && c.arch != "resnet56") {
        fprintf(stderr, "camscope_bench: --arch must be resnet18, resnet20 or resnet56\n");
        std::exit(2);
    }
    if (c.seconds < 0 || c.warmup < 0 || c.min_iters < 1 || c.rounds < 1 || c.classes < 2) {
        fprintf(stderr, "camscope_bench: --seconds/--warmup must be >= 0, --min-iters/--rounds >= 1, --classes >= 2\n");
        std::exit(2);
    }
    return c;
}

std::string blas_in_use() {
    std::ifstream f("/proc/self/maps");
    std::string line;
    std::vector<std::string> found;
    const char* keys[] = {"blas", "mkl", "blis", "atlas", "dnnl", "mkldnn", "lapack"};
    while (std::getline(f, line)) {
        auto pos = line.find('/');
        if (pos == std::string::npos) continue;
        std::string path = line.substr(pos);
        std::string base = fs::path(path).filename().string();
        std::string lower = base;
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        bool hit = false;
        for (const char* k : keys) hit = hit || lower.find(k) != std::string::npos;
        if (!hit) continue;
        // Resolve alternatives symlinks (libblas.so.3 -> openblas-pthread/libblas.so.3).
        std::error_code ec;
        auto real = fs::canonical(path, ec);
        std::string shown = ec ? path : real.string();
        if (std::find(found.begin(), found.end(), shown) == found.end()) found.push_back(shown);
    }
    if (found.empty()) return "(none mapped)";
    std::string out;
    for (auto& s : found) {
        if (!out.empty()) out += ", ";
        out += s;
    }
    return out;
}

/// The BLAS line of at::show_config() (what torch was built against).
std::string torch_blas_config() {
    std::istringstream cfg(at::show_config());
    std::string line, out;
    while (std::getline(cfg, line)) {
        auto p = line.find("BLAS_INFO=");
        if (p != std::string::npos) {
            auto e = line.find(',', p);
            out = line.substr(p, e == std::string::npos ? std::string::npos : e - p);
        }
    }
    return out.empty() ? "?" : out;
}

struct Row {
    std::string name;
    int batch;
    Timing t;
};

void print_row(const Row& r, const Timing* limit, const Timing* plain) {
    if (!r.t.ok) {
        printf("  %-34s %6d   FAILED: %s\n", r.name.c_str(), r.batch, r.t.error.c_str());
        return;
    }
    auto ratio = [&](const Timing* ref) -> std::string {
        if (!ref || !ref->ok || ref->ips <= 0) return "    -";
        char buf[32];
        snprintf(buf, sizeof buf, "%5.2fx", r.t.ips / ref->ips);
        return buf;
    };
    printf("  %-34s %6d %11.1f %11.2f %8s %8s %7ld\n", r.name.c_str(), r.batch, r.t.ips, r.t.ms_batch,
           ratio(limit).c_str(), ratio(plain).c_str(), r.t.iters);
    fflush(stdout);
}

void print_header() {
    printf("  %-34s %6s %11s %11s %8s %8s %7s\n", "path", "batch", "images/s", "ms/batch", "x limit", "x plain",
           "iters");
    printf("  %s\n", std::string(22 + 6 + 11 + 11 + 8 + 8 + 7 + 6, '-').c_str());
}

}  // namespace

int main(int argc, char** argv) {
    using namespace camscope;
    const Config cfg = parse(argc, argv);
    // Before any tensor, for every row alike: the limit row must not run under the allocator trap
    // (util/allocator.hpp) that camscope's own rows avoid. CAMSCOPE_ALLOCATOR=system measures the
    // trap instead, for all rows.
    const std::string allocator = tune_allocator();
    const int threads = configure_threads(cfg.threads);

    const fs::path tmpdir = fs::temp_directory_path() / ("camscope_bench_" + std::to_string(::getpid()));
    fs::create_directories(tmpdir);
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(p, ec);
        }
    } cleanup{tmpdir};

    const char* omp_wait = std::getenv("OMP_WAIT_POLICY");
    printf("camscope_bench: LibTorch %s, intra-op threads %d (%s), inter-op %d, OMP_WAIT_POLICY=%s\n", TORCH_VERSION,
           threads, cfg.threads > 0 ? "--threads" : "all cores", at::get_num_interop_threads(),
           omp_wait ? omp_wait : "(unset)");
    printf("  allocator: %s\n", allocator.c_str());
    if (cfg.device != "cpu") {
        if (!torch::cuda::is_available()) {
            fprintf(stderr, "camscope_bench: --device %s: this LibTorch has no CUDA support or sees no GPU\n",
                    cfg.device.c_str());
            return 2;
        }
        printf("  device: %s (%zu CUDA devices); NVIDIA_TF32_OVERRIDE=%s\n", cfg.device.c_str(),
               static_cast<size_t>(torch::cuda::device_count()),
               std::getenv("NVIDIA_TF32_OVERRIDE") ? std::getenv("NVIDIA_TF32_OVERRIDE") : "(unset)");
    }
    printf("  MKL-DNN (oneDNN) %s, MKL %s, OpenMP %s; torch %s\n", at::hasMKLDNN() ? "yes" : "no",
           at::hasMKL() ? "yes" : "no", at::hasOpenMP() ? "yes" : "no", torch_blas_config().c_str());
    printf("  BLAS mapped: %s\n", blas_in_use().c_str());
    printf("  timing: %d warm-up iters, then %d interleaved round(s) of >= %.2f s and >= %d iters per row, best "
           "round reported%s; clock: %s\n\n",
           cfg.warmup, cfg.rounds, cfg.seconds, cfg.min_iters, cfg.quick ? " (--quick)" : "",
           Clock::cpu ? "process CPU time (--clock cpu)" : "wall");
    fflush(stdout);

    try {
        if (!cfg.dataset_rss.empty()) dataset_rss(cfg, tmpdir);
        if (cfg.analyze) full_analyze(cfg, tmpdir);
        if (cfg.render_only) render_only(cfg, tmpdir);
        if (cfg.skip_bench) {
            printf("peak RSS: %.1f MiB\n", peak_rss_mib());
            return 0;
        }

        // ---- the model: built with engine::build_model (via save_untrained), loaded from disk
        InputSpec spec;
        spec.channels = 3;
        spec.height = cfg.model.empty() ? 32 : cfg.size;
        spec.width = spec.height;
        spec.norm = normalization_preset(cfg.model.empty() ? "cifar100" : "imagenet")
                        .value_or(Normalization{{0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f}});
        const std::string path = cfg.model.empty() ? (tmpdir / (cfg.arch + ".pt")).string() : cfg.model;
        if (cfg.model.empty()) {
            size_t params = 0;
            {
                auto m = engine::build_model(cfg.arch, spec, cfg.classes, cfg.seed);
                for (const auto& p : m.parameters()) params += static_cast<size_t>(p.numel());
            }
            std::vector<std::string> names;
            for (int i = 0; i < cfg.classes; ++i) names.push_back("class" + std::to_string(i));
            save_untrained(cfg.arch, spec, cfg.classes, names, cfg.seed, path);
            printf("model: %s (CIFAR, %dx%dx%d, %d classes, %.2f M parameters, untrained, seed %llu), %.1f MiB file\n",
                   cfg.arch.c_str(), spec.channels, spec.height, spec.width, cfg.classes, params / 1e6,
                   static_cast<unsigned long long>(cfg.seed), fs::file_size(path) / (1024.0 * 1024.0));
        } else {
            printf("model: %s (%dx%dx%d, ImageNet normalisation), %.1f MiB file\n", path.c_str(), spec.channels,
                   spec.height, spec.width, fs::file_size(path) / (1024.0 * 1024.0));
        }

        // (a) plain LibTorch, with LibTorch's default executor settings (camscope's Model::load turns
        //     the graph optimizer off process-wide; the guard restores the default for this module).
        torch::jit::Module plain;
        {
            torch::jit::GraphOptimizerEnabledGuard g(true);
            plain = torch::jit::load(path, torch::Device(cfg.device));
            plain.eval();
        }
        // (b) frozen + optimize_for_inference, from a separate load.
        torch::jit::Module fast = load_limit_module(path, cfg.device);
        // (c)-(e) camscope.
        EngineOptions eo;
        eo.threads = cfg.threads;
        eo.device = cfg.device;
        eo.quiet = true;
        auto model = Model::load(path, eo);
        const std::string layer = model.resolve_layer("", spec);
        std::string layer_shape;
        for (const auto& l : model.layers(spec))
            if (l.path == layer) {
                for (size_t i = 0; i < l.shape.size(); ++i) {
                    if (i) layer_shape += 'x';
                    layer_shape += std::to_string(l.shape[i]);
                }
            }
        const auto methods = cam_methods();
        std::string mlist;
        for (auto& m : methods) {
            if (!mlist.empty()) mlist += ", ";
            mlist += m;
        }
        printf("Grad-CAM layer (auto): %s (%s); CAM methods: %s\n\n", layer.c_str(), layer_shape.c_str(),
               mlist.c_str());
        fflush(stdout);

        constexpr int kBenchMaxChannels = 16;
        const int maxb = *std::max_element(cfg.batches.begin(), cfg.batches.end());
        std::mt19937 rng(static_cast<unsigned>(cfg.seed));
        std::normal_distribution<float> nd(0.f, 1.f);
        std::vector<float> host(static_cast<size_t>(maxb) * spec.channels * spec.height * spec.width);
        for (auto& v : host) v = nd(rng);

        struct Summary {
            int batch;
            Timing limit, predict, both, gradcam;
        };
        std::vector<Summary> summary;

        print_header();
        for (int b : cfg.batches) {
            auto x = torch::from_blob(host.data(), {b, spec.channels, spec.height, spec.width}, torch::kFloat32).clone();
            const torch::Device dev(cfg.device);
            struct Path {
                std::string name;
                std::function<void()> fn;
            };
            std::vector<Path> paths;
            paths.push_back({"(a) plain forward", [&] {
                                 torch::jit::GraphOptimizerEnabledGuard g(true);  // LibTorch's default
                                 torch::NoGradGuard ng;
                                 auto y = first_tensor(plain.forward({x.to(dev)})).to(torch::kCPU);
                                 g_sink = g_sink + y.data_ptr<float>()[0];
                             }});
            paths.push_back({"(b) frozen+optimized", [&] {
                                 torch::jit::GraphOptimizerEnabledGuard g(true);
                                 torch::NoGradGuard ng;
                                 auto y = first_tensor(fast.forward({x.to(dev)})).to(torch::kCPU).contiguous();
                                 g_sink = g_sink + y.data_ptr<float>()[0];
                             }});
            paths.push_back({"(c) camscope predict", [&, b] {
                                 auto r = model.run(host.data(), b, spec);
                                 g_sink = g_sink + r.logits[0];
                             }});
            // What `analyze` asks for: Grad-CAM of the predicted and of the true class, one forward.
            paths.push_back({"(d2) gradcam pred + true", [&, b] {
                                 CamRequest req;
                                 req.method = "gradcam";
                                 req.layers = {layer};
                                 std::vector<int> labels(b);
                                 for (int i = 0; i < b; ++i) labels[i] = (i * 7) % cfg.classes;
                                 req.targets = {std::vector<int>(b, -1), labels};
                                 auto r = model.run(host.data(), b, spec, &req);
                                 g_sink = g_sink + r.cams[0];
                             }});
            std::vector<std::string> cams{"gradcam"};
            if (cfg.all_methods && b == maxb)
                for (const auto& m : methods)
                    if (m != "gradcam") cams.push_back(m);
            for (const auto& m : cams) {
                auto req = std::make_shared<CamRequest>();
                req->method = m;
                req->layers = {layer};
                req->targets = {std::vector<int>(b, -1)};
                req->perturb_batch = b;
                std::string name = (m == "gradcam" ? "(d) camscope " : "(e) camscope ") + m;
                if (m == "scorecam" || m == "ablationcam") {
                    // One forward per (image, channel): bounded as users would (--max-channels).
                    req->max_channels = kBenchMaxChannels;
                    name += " (" + std::to_string(kBenchMaxChannels) + " ch)";
                }
                paths.push_back({name, [&, b, req] {
                                     auto r = model.run(host.data(), b, spec, req.get());
                                     g_sink = g_sink + r.cams[0];
                                 }});
            }
            // Rounds interleave the paths, so that load from other processes hits all of them alike;
            // each path reports its best round.
            std::vector<Timing> best(paths.size());
            std::vector<long> total_iters(paths.size(), 0);
            for (int r = 0; r < cfg.rounds; ++r) {
                for (size_t i = 0; i < paths.size(); ++i) {
                    if (!best[i].ok && r > 0) continue;  // failed in round 0
                    Timing t = measure(paths[i].fn, b, cfg, r == 0);
                    total_iters[i] += t.iters;
                    if (r == 0 || (t.ok && t.ips > best[i].ips)) best[i] = t;
                }
            }
            for (size_t i = 0; i < paths.size(); ++i) {
                Row row{paths[i].name, b, best[i]};
                row.t.iters = total_iters[i];
                print_row(row, i == 0 ? nullptr : &best[1], i == 0 ? nullptr : &best[0]);
            }
            summary.push_back({b, best[1], best[2], best[3], best[4]});
            printf("\n");
        }

        printf("target: predict >= 0.95x, Grad-CAM >= 0.9x of the limit (informational)\n");
        for (const auto& s : summary) {
            auto mark = [&](const Timing& t, double goal) -> std::string {
                if (!t.ok || !s.limit.ok) return "n/a";
                const double r = t.ips / s.limit.ips;
                char buf[48];
                snprintf(buf, sizeof buf, "%.2fx %s", r, r >= goal ? "PASS" : "BELOW");
                return buf;
            };
            printf("  batch %3d: predict %-12s Grad-CAM %-12s Grad-CAM pred + true %s\n", s.batch,
                   mark(s.predict, 0.95).c_str(), mark(s.gradcam, 0.9).c_str(), mark(s.both, 0.9).c_str());
        }
        printf("\npeak RSS: %.1f MiB (getrusage ru_maxrss), current %.1f MiB\n", peak_rss_mib(), current_rss_mib());
    } catch (const camscope::Error& e) {
        fprintf(stderr, "camscope_bench: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        fprintf(stderr, "camscope_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}

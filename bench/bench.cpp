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
// --analyze adds the row "full analyze, N images, K classes": the library calls `camscope
// analyze` makes (run identity, measure = run_pass, build_report, attach_contrast_cams,
// evaluate_cams with the quick faithfulness options, attach_faithfulness, write_report into a
// temporary folder) on a synthetic CIFAR-100-format test set the
// bench writes itself (--analyze-n random images, 100 classes, superclass labels) or on
// --analyze-data PATH, with --arch's untrained weights, and the time of each stage beside the
// limit forward (b) over the same images; then the report is drawn again --rounds times on one
// thread and on all, interleaved, for the gain of drawing the figures in parallel.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/builtin.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/engine/train.hpp"
#include "camscope/pipeline/contrast.hpp"
#include "camscope/pipeline/evaluate.hpp"
#include "camscope/pipeline/measure.hpp"
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/report/analysis.hpp"
#include "camscope/report/identity.hpp"
#include "camscope/util/allocator.hpp"
#include "camscope/util/error.hpp"

namespace fs = std::filesystem;
// Wall time by default; with --clock cpu, the process's CPU time (every thread of it): on a shared
// machine another process's load stretches wall time but hardly this process's CPU time, so the
// ratios between rows stay comparable (meaningful with --threads 1, where CPU time = work done).
struct Clock {
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<Clock, duration>;
    static inline bool cpu = false;
    static time_point now() {
        if (!cpu) return time_point(std::chrono::duration_cast<duration>(std::chrono::steady_clock::now().time_since_epoch()));
        timespec ts{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return time_point(duration(static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec));
    }
};

namespace {

struct Config {
    int threads = 0;
    std::vector<int> batches{1, 64};
    double seconds = 2.0;
    int warmup = 2;
    int min_iters = 2;
    int rounds = 3;
    std::string arch = "resnet18";
    int classes = 100;
    std::uint64_t seed = 1;
    bool quick = false;
    bool all_methods = true;
    std::string dataset_rss;
    std::string dataset_split = "test";
    bool dataset_cams = false;
    bool skip_bench = false;
    bool analyze = false, render_only = false;
    size_t analyze_n = 10000;
    std::string analyze_data;
    std::string device = "cpu";  // every row's device: the limit's modules, inputs and camscope's Model
    std::string model;  // a TorchScript file instead of a built-in --arch (3 x size x size, ImageNet norm)
    int size = 224;
};

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

// ---------------------------------------------------------------- memory / environment

double peak_rss_mib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;  // Linux: KiB
}

double cpu_seconds() {  // user + system time of the whole process
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

double current_rss_mib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
    return -1;
}

/// BLAS/LAPACK/oneDNN-ish shared objects mapped into this process (cheap: /proc/self/maps).
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

// ---------------------------------------------------------------- timing

struct Timing {
    double ips = 0;        // images per second
    double ms_batch = 0;   // milliseconds per batch
    long iters = 0;
    double seconds = 0;
    bool ok = false;
    std::string error;
};

Timing measure(const std::function<void()>& f, int batch, const Config& cfg, bool warm_up) {
    Timing t;
    try {
        if (warm_up)
            for (int i = 0; i < cfg.warmup; ++i) f();
        const auto t0 = Clock::now();
        double el = 0;
        do {
            f();
            ++t.iters;
            el = std::chrono::duration<double>(Clock::now() - t0).count();
        } while (el < cfg.seconds || t.iters < cfg.min_iters);
        t.seconds = el;
        t.ips = t.iters * batch / el;
        t.ms_batch = el * 1000.0 / t.iters;
        t.ok = true;
    } catch (const std::exception& e) {
        std::string msg = e.what();
        t.error = msg.substr(0, msg.find('\n'));
    }
    return t;
}

volatile float g_sink = 0;  // keeps results observable

torch::Tensor first_tensor(const c10::IValue& v) {
    if (v.isTensor()) return v.toTensor();
    if (v.isTuple()) return v.toTuple()->elements().at(0).toTensor();
    throw std::runtime_error("model output is neither a tensor nor a tuple");
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

// ---------------------------------------------------------------- dataset RSS

void dataset_rss(const Config& cfg, const fs::path& tmpdir) {
    using namespace camscope;
    printf("== dataset RSS: %s (split %s, built-in cnn, batch %d%s)\n", cfg.dataset_rss.c_str(),
           cfg.dataset_split.c_str(), cfg.batches.back(), cfg.dataset_cams ? ", with CAMs" : "");
    auto stage = [](const char* what) {
        printf("  %-48s RSS %8.1f MiB   peak %8.1f MiB\n", what, current_rss_mib(), peak_rss_mib());
        fflush(stdout);
    };
    stage("start");
    OpenOptions oo;
    oo.split = cfg.dataset_split;
    auto data = open_dataset(cfg.dataset_rss, oo);
    char buf[160];
    snprintf(buf, sizeof buf, "after open_dataset (%zu images, %zu classes)", data->size(), data->num_classes());
    stage(buf);

    const auto& di = data->info();
    InputSpec spec = di.preset;
    if (spec.norm.mean.empty())
        if (auto p = normalization_preset(di.name)) spec.norm = *p;
    if (spec.norm.mean.empty()) {
        spec.norm.mean.assign(spec.channels, 0.f);
        spec.norm.std.assign(spec.channels, 1.f);
    }
    const std::string path = (tmpdir / "cnn.pt").string();
    save_untrained("cnn", spec, static_cast<int>(data->num_classes()), di.class_names, cfg.seed, path);
    EngineOptions eo;
    eo.threads = cfg.threads;
    eo.device = cfg.device;
    eo.quiet = true;
    auto model = Model::load(path, eo);
    spec = resolve_input_spec(model.info(), di, {});
    check_class_count(model, *data, spec);

    PassOptions po;
    po.batch_size = cfg.batches.back();
    po.progress = false;
    po.cams = cfg.dataset_cams;
    if (po.cams) po.cam.layers = {model.resolve_layer("", spec)};
    po.limit = std::min<size_t>(data->size(), std::max<size_t>(static_cast<size_t>(po.batch_size) * 2, 256));
    {
        auto warm = run_pass(model, *data, spec, po);
        snprintf(buf, sizeof buf, "after a warm-up pass (%zu images)", warm.n);
    }
    stage(buf);

    const size_t tenth = std::max<size_t>(data->size() / 10, 1);
    double peak_tenth = 0, peak_full = 0, secs_full = 0;
    size_t n_tenth = 0, n_full = 0;
    int fh = 0, fw = 0, k = 0;
    {
        po.limit = tenth;
        auto out = run_pass(model, *data, spec, po);
        n_tenth = out.n;
        snprintf(buf, sizeof buf, "after run_pass over %zu images (1/10)", out.n);
        peak_tenth = peak_rss_mib();
    }
    stage(buf);
    {
        po.limit = 0;
        auto out = run_pass(model, *data, spec, po);
        n_full = out.n;
        secs_full = out.seconds;
        fh = out.fh;
        fw = out.fw;
        k = out.num_classes;
        snprintf(buf, sizeof buf, "after run_pass over %zu images (all)", out.n);
        peak_full = peak_rss_mib();
    }
    stage(buf);
    // What the pass keeps per image by design: logits + probs (2K floats), 3 ints, and with CAMs two
    // fh×fw maps.
    const double kept_per_image = (2.0 * k + (cfg.dataset_cams ? 2.0 * fh * fw : 0)) * 4 + 3 * 4;
    const double kept_mib = kept_per_image * (n_full - n_tenth) / (1024.0 * 1024.0);
    printf("  peak growth 1/10 -> all: %.1f MiB for %zu more images (%.2f img/s over all); per-image outputs "
           "kept by design account for %.1f MiB\n",
           peak_full - peak_tenth, n_full - n_tenth, secs_full > 0 ? n_full / secs_full : 0.0, kept_mib);
    printf("\n");
}


// ---------------------------------------------------------------- full analyze

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

void full_analyze(const Config& cfg, const fs::path& tmpdir) {
    using namespace camscope;
    std::string data_path = cfg.analyze_data;
    if (data_path.empty()) {
        if (cfg.analyze_n == 0) throw std::invalid_argument("--analyze-n must be positive for the synthetic set");
        data_path = (tmpdir / "cifar100-synthetic").string();
        write_synthetic_cifar100(data_path, cfg.analyze_n, cfg.seed);
    }
    auto data = open_dataset(data_path);
    const auto& di = data->info();
    const size_t n = cfg.analyze_data.empty() || cfg.analyze_n == 0 ? data->size()
                                                                      : std::min(cfg.analyze_n, data->size());
    const int k = static_cast<int>(data->num_classes());
    const int batch = *std::max_element(cfg.batches.begin(), cfg.batches.end());
    InputSpec spec = resolve_input_spec(ModelInfo{}, di, {});
    const std::string path = (tmpdir / ("analyze_" + cfg.arch + ".pt")).string();
    save_untrained(cfg.arch, spec, k, di.class_names, cfg.seed, path);
    EngineOptions eo;
    eo.threads = cfg.threads;
    eo.device = cfg.device;
    eo.quiet = true;
    Model model = Model::load(path, eo);
    spec = resolve_input_spec(model.info(), di, {});
    data->set_input_size(spec.height, spec.width);
    check_class_count(model, *data, spec);
    const std::string layer = model.resolve_layer("", spec);
    printf("== full analyze, %zu images, %d classes: %s (%s%s), %s untrained (seed %llu), Grad-CAM at %s, batch %d, "
           "%d threads\n",
           n, k, cfg.analyze_data.empty() ? "synthetic CIFAR-100 test.bin" : cfg.analyze_data.c_str(), di.format.c_str(),
           di.coarse_names.empty() ? "" : ", with superclasses", cfg.arch.c_str(),
           static_cast<unsigned long long>(cfg.seed), layer.c_str(), batch, model.threads());
    fflush(stdout);

    // The limit: the frozen + optimize_for_inference forward of the same model over the same n
    // images (decoding and normalisation not timed), best of one run before and one after.
    torch::jit::Module fast;
    {
        torch::jit::GraphOptimizerEnabledGuard g(true);
        auto copy = torch::jit::load(path, torch::Device(cfg.device));
        copy.eval();
        auto frozen = torch::jit::freeze(copy);
        fast = torch::jit::optimize_for_inference(frozen);
    }
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

    // The analysis, as cmd_analyze.cpp runs it.
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
    identify_model(identity, path);
    identify_dataset(identity, *data, data_path);
    identify_input(identity, spec);
    identity.cam.method = "gradcam";
    identity.cam.layers = {layer};
    stages.emplace_back("run identity (model SHA-256, dataset fingerprint)", lap());
    PassOptions po;
    po.batch_size = batch;
    po.limit = n;
    po.progress = false;
    po.cams = true;
    po.cam = identity.cam;
    AnalysisInput in = measure(model, *data, spec, po, path, data_path);
    stages.emplace_back("predict + Grad-CAM pass (run_pass)", lap());
    AnalysisOptions ro;
    ro.progress = false;
    ro.threads = model.threads();
    Report r = build_report(in, ro);
    r.identity = identity;
    stages.emplace_back("report model (build_report)", lap());
    attach_contrast_cams(r, model, *data, spec, layer, batch);
    char what[160];
    snprintf(what, sizeof what, "Finer-CAM of the pair sheets (%zu maps)", r.contrast_cams.size());
    stages.emplace_back(what, lap());
    EvaluateOptions fo = quick_faithfulness_options(100, false, in.n);
    fo.layers = {layer};
    fo.batch_size = batch;
    fo.progress = false;
    if (r.degenerate.warn()) {
        fo.check_method = "gradcam";
        fo.check_layers = candidate_layers(model.layers(spec), layer);
    }
    faith::Summary fs = evaluate_cams(model, *data, spec, in.class_names, fo);
    fs.dataset_path = data_path;
    fs.model_path = path;
    attach_faithfulness(r, std::move(fs), ro);
    snprintf(what, sizeof what, "faithfulness check (%zu images, %zu methods%s)", fo.n, fo.methods.size(),
             fo.check_layers.empty() ? "" : ", blank maps counted at other layers");
    stages.emplace_back(what, lap());
    ro.on_stage = [&](const std::string& stage, double secs) { stages.emplace_back("write_report: " + stage, secs); };
    lap();
    write_report(r, in, ro, out.string());
    lap();
    const double total = std::chrono::duration<double>(Clock::now() - t0).count();
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
    printf("  faithfulness: %zu perturbed inputs, %zu scored (the rest shared between methods); %s\n",
           r.faithfulness->inputs, r.faithfulness->inputs_scored, faith::headline(*r.faithfulness).c_str());
    printf("  report: %zu files, %.1f MB\n", files, bytes / 1e6);
    printf("  peak RSS so far: %.1f MiB\n", peak_rss_mib());
    compare_drawing(r, in, ro, cfg, tmpdir);
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
        torch::jit::Module fast;
        {
            torch::jit::GraphOptimizerEnabledGuard g(true);
            auto copy = torch::jit::load(path, torch::Device(cfg.device));
            copy.eval();
            auto frozen = torch::jit::freeze(copy);
            fast = torch::jit::optimize_for_inference(frozen);
        }
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

#pragma once
// What the cases of camscope_bench share: the clock, the options, timing a row, memory figures.
// The cases: main.cpp (throughput rows, the command line), dataset_rss.cpp (--dataset-rss),
// analyze.cpp (--analyze, --render-only).
#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <torch/script.h>

namespace camscope_bench {

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

// ---------------------------------------------------------------- memory

double peak_rss_mib();     // getrusage ru_maxrss
double cpu_seconds();      // user + system time of the whole process
double current_rss_mib();  // /proc/self/status VmRSS

// ---------------------------------------------------------------- timing

struct Timing {
    double ips = 0;        // images per second
    double ms_batch = 0;   // milliseconds per batch
    long iters = 0;
    double seconds = 0;
    bool ok = false;
    std::string error;
};

/// `f` (one batch of `batch` images) run cfg.warmup times untimed when warm_up, then timed until
/// both cfg.seconds and cfg.min_iters are reached; an exception is a failed Timing with its message.
Timing measure(const std::function<void()>& f, int batch, const Config& cfg, bool warm_up);

extern volatile float g_sink;  // keeps results observable

/// The limit row's module (b): `path` loaded on `device` (a separate load), eval(), frozen and
/// torch::jit::optimize_for_inference'd, with LibTorch's graph optimizer on for the load (camscope's
/// Model::load turns it off process-wide); run it under the same guard and torch::NoGradGuard.
torch::jit::Module load_limit_module(const std::string& path, const std::string& device);

/// The first tensor of a model's output (a tensor, or a tuple's first element).
torch::Tensor first_tensor(const c10::IValue& v);

// ---------------------------------------------------------------- the cases

void dataset_rss(const Config& cfg, const fs::path& tmpdir);   // --dataset-rss
void full_analyze(const Config& cfg, const fs::path& tmpdir);  // --analyze
void render_only(const Config& cfg, const fs::path& tmpdir);   // --render-only

}  // namespace camscope_bench

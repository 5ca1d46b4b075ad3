// camscope_bench: timing a row, memory figures (bench.hpp).
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include "bench.hpp"

namespace camscope_bench {

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

torch::jit::Module load_limit_module(const std::string& path, const std::string& device) {
    torch::jit::GraphOptimizerEnabledGuard g(true);
    auto copy = torch::jit::load(path, torch::Device(device));
    copy.eval();
    auto frozen = torch::jit::freeze(copy);
    return torch::jit::optimize_for_inference(frozen);
}

volatile float g_sink = 0;

torch::Tensor first_tensor(const c10::IValue& v) {
    if (v.isTensor()) return v.toTensor();
    if (v.isTuple()) return v.toTuple()->elements().at(0).toTensor();
    throw std::runtime_error("model output is neither a tensor nor a tuple");
}

}  // namespace camscope_bench

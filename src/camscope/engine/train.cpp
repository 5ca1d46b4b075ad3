// Training loop for the built-in architectures (camscope train, camscope demo).
#include "camscope/engine/train.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <future>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include "camscope/engine/builtin.hpp"
#include "camscope/engine/torch_internal.hpp"
#include "camscope/util/allocator.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {
namespace {

struct Batch {
    torch::Tensor x;  // b×C×H×W
    torch::Tensor y;  // b
};

/// Loads samples `idx` into a batch; with `augment`, random crop (4-pixel zero padding in the
/// normalised space, i.e. padding with the mean colour) and horizontal flip, as for CIFAR.
Batch load_batch(const Dataset& ds, const std::vector<size_t>& idx, const InputSpec& spec, bool augment,
                 std::mt19937_64& rng) {
    const int c = spec.channels, h = spec.height, w = spec.width;
    const size_t plane = static_cast<size_t>(h) * w, per = plane * c;
    auto x = torch::empty({static_cast<int64_t>(idx.size()), c, h, w});
    auto y = torch::empty({static_cast<int64_t>(idx.size())}, torch::kInt64);
    float* px = x.data_ptr<float>();
    int64_t* py = y.data_ptr<int64_t>();
    std::vector<float> tmp(per);
    std::uniform_int_distribution<int> shift(-4, 4), coin(0, 1);
    for (size_t i = 0; i < idx.size(); ++i) {
        Sample s = ds.get(idx[i]);
        py[i] = s.label;
        float* dst = px + i * per;
        if (!augment) {
            to_input(s.image, spec, dst);
            continue;
        }
        to_input(s.image, spec, tmp.data());
        const int dy = shift(rng), dx = shift(rng);
        const bool flip = coin(rng);
        for (int ch = 0; ch < c; ++ch)
            for (int yy = 0; yy < h; ++yy)
                for (int xx = 0; xx < w; ++xx) {
                    const int sy = yy + dy, sx0 = xx + dx;
                    const int sx = flip ? w - 1 - sx0 : sx0;
                    const bool in = sy >= 0 && sy < h && sx0 >= 0 && sx0 < w;
                    dst[ch * plane + yy * w + xx] = in ? tmp[ch * plane + sy * w + sx] : 0.f;
                }
    }
    return {x, y};
}

double evaluate(torch::jit::Module& m, const Dataset& ds, const InputSpec& spec, int batch_size, bool quiet) {
    m.eval();
    torch::NoGradGuard ng;
    std::mt19937_64 rng(0);
    size_t correct = 0;
    Progress bar("  evaluate", ds.size(), !quiet);
    for (size_t start = 0; start < ds.size(); start += batch_size) {
        std::vector<size_t> idx(std::min<size_t>(batch_size, ds.size() - start));
        std::iota(idx.begin(), idx.end(), start);
        auto b = load_batch(ds, idx, spec, false, rng);
        auto pred = m.forward({b.x}).toTensor().argmax(1);
        correct += pred.eq(b.y).sum().item<int64_t>();
        bar.advance(idx.size());
    }
    m.train();
    return ds.size() ? static_cast<double>(correct) / ds.size() : 0.0;
}

std::string metadata(const std::string& arch, const InputSpec& spec, const std::vector<std::string>& classes,
                     const nlohmann::json& extra) {
    nlohmann::json j = {
        {"format", "camscope-model"},
        {"version", 1},
        {"arch", arch},
        {"class_names", classes},
        {"input",
         {{"channels", spec.channels},
          {"height", spec.height},
          {"width", spec.width},
          {"mean", spec.norm.mean},
          {"std", spec.norm.std}}},
    };
    j.update(extra);
    return j.dump(2);
}

void save_atomic(torch::jit::Module& m, const std::string& path, const std::string& meta) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    if (target.has_parent_path()) fs::create_directories(target.parent_path());
    // Hidden, per-process temp name in the same folder (as write_file_atomic): two runs saving to
    // one path never write into each other's temp file.
    std::string tmp_name = ".";  // appended piece by piece: GCC 12 -Wstringop-overflow false positive
    tmp_name += target.filename().string();
    tmp_name += ".tmp-";
    tmp_name += std::to_string(::getpid());
    const std::string tmp = (target.parent_path() / tmp_name).string();
    torch::jit::ExtraFilesMap extra{{"camscope.json", meta}};
    const bool was_training = m.is_training();
    m.eval();
    try {
        m.save(tmp, extra);
    } catch (const c10::Error& e) {
        std::error_code ec;
        fs::remove(tmp, ec);
        throw Error(path + ": cannot save model: " + first_line(e.what()));
    }
    if (was_training) m.train();
    std::error_code ec;
    fs::rename(tmp, target, ec);
    if (ec) {
        std::error_code ec2;
        fs::remove(tmp, ec2);
        throw Error(path + ": cannot move the saved model into place: " + ec.message());
    }
}

std::string pick_arch(const std::string& arch, const InputSpec& spec) {
    if (arch != "auto") return arch;
    return spec.channels == 1 ? "cnn" : "resnet20";
}

void check_spec(const InputSpec& spec) {
    if (spec.channels <= 0 || spec.height <= 0 || spec.width <= 0 ||
        spec.norm.mean.size() != static_cast<size_t>(spec.channels) ||
        spec.norm.std.size() != static_cast<size_t>(spec.channels))
        throw UsageError(format("invalid input spec %dx%dx%d with %zu means / %zu stds", spec.channels, spec.height,
                                spec.width, spec.norm.mean.size(), spec.norm.std.size()));
}

}  // namespace

TrainResult train_builtin(const Dataset& train, const Dataset* test, const InputSpec& spec, const TrainOptions& opt) {
    tune_allocator();  // see util/allocator.hpp
    check_spec(spec);
    if (train.size() == 0) throw Error("the training set is empty");
    if (opt.epochs <= 0 || opt.batch_size <= 0) throw UsageError("--epochs and --batch-size must be positive");
    const std::string arch = pick_arch(opt.arch, spec);
    const int classes = static_cast<int>(train.num_classes());
    auto m = engine::build_model(arch, spec, classes, opt.seed);
    m.train();
    std::vector<torch::Tensor> params;
    size_t nparams = 0;
    for (auto p : m.parameters()) {
        p.set_requires_grad(true);
        params.push_back(p);
        nparams += p.numel();
    }
    const bool use_adam = opt.optimizer == "adam" || (opt.optimizer == "auto" && arch == "cnn");
    if (opt.optimizer != "auto" && opt.optimizer != "adam" && opt.optimizer != "sgd")
        throw UsageError("--optimizer must be sgd, adam or auto, got '" + opt.optimizer + "'");
    // The cnn's global-average-pooling head learns slowly at Adam's usual 2e-3 (3 epochs on
    // Fashion-MNIST: 87 %; at 2e-2: 91 %; docs/cam-methods.md).
    const double base_lr = opt.lr > 0 ? opt.lr : (use_adam ? (arch == "cnn" ? 2e-2 : 2e-3) : 0.1);
    std::unique_ptr<torch::optim::Optimizer> optim;
    if (use_adam)
        optim = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(base_lr));
    else
        optim = std::make_unique<torch::optim::SGD>(
            params, torch::optim::SGDOptions(base_lr).momentum(0.9).nesterov(true).weight_decay(opt.weight_decay));
    auto set_lr = [&](double lr) {
        for (auto& g : optim->param_groups()) {
            if (use_adam) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
            else static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
        }
    };
    const bool augment = opt.augment == 1 || (opt.augment == -1 && spec.channels == 3);
    const size_t n = opt.limit ? std::min(opt.limit, train.size()) : train.size();
    const size_t steps_per_epoch = (n + opt.batch_size - 1) / opt.batch_size;
    const size_t total_steps = steps_per_epoch * opt.epochs;
    std::mt19937_64 rng(opt.seed);
    TrainResult result;
    result.path = opt.out;
    result.parameters = nparams;
    if (!opt.quiet)
        fprintf(stderr, "training %s (%zu parameters) on %zu images, %d epochs, batch %d, %s lr %.3g%s\n",
                arch.c_str(), nparams, n, opt.epochs, opt.batch_size, use_adam ? "adam" : "sgd", base_lr,
                augment ? ", crop+flip augmentation" : "");
    size_t step = 0;
    for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<size_t> order(n);
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        auto batch_indices = [&](size_t b) {
            const size_t s = b * opt.batch_size, e = std::min(n, s + opt.batch_size);
            return std::vector<size_t>(order.begin() + s, order.begin() + e);
        };
        std::mt19937_64 aug_rng(opt.seed * 1000003 + epoch);
        // Prefetch: the next batch is decoded on a worker thread while this one trains.
        auto next = std::async(std::launch::async, load_batch, std::cref(train), batch_indices(0), std::cref(spec),
                               augment, std::ref(aug_rng));
        Progress bar(format("epoch %d/%d", epoch, opt.epochs), n, !opt.quiet);
        double loss_sum = 0;
        size_t correct = 0, seen = 0;
        for (size_t b = 0; b < steps_per_epoch; ++b) {
            Batch batch = next.get();
            if (b + 1 < steps_per_epoch)
                next = std::async(std::launch::async, load_batch, std::cref(train), batch_indices(b + 1),
                                  std::cref(spec), augment, std::ref(aug_rng));
            // Cosine learning-rate decay over all steps.
            set_lr(base_lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step) / total_steps)));
            optim->zero_grad();
            auto logits = m.forward({batch.x}).toTensor();
            auto loss = torch::nn::functional::cross_entropy(logits, batch.y);
            loss.backward();
            optim->step();
            ++step;
            const auto bs = batch.y.size(0);
            loss_sum += loss.item<double>() * bs;
            correct += logits.argmax(1).eq(batch.y).sum().item<int64_t>();
            seen += bs;
            bar.set_postfix(format("loss %.3f acc %.1f%%", loss_sum / seen, 100.0 * correct / seen));
            bar.advance(bs);
        }
        bar.finish();
        EpochStats st;
        st.epoch = epoch;
        st.train_loss = loss_sum / seen;
        st.train_accuracy = static_cast<double>(correct) / seen;
        if (test) st.test_accuracy = evaluate(m, *test, spec, 256, opt.quiet);
        st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        result.epochs.push_back(st);
        if (!opt.quiet) {
            fprintf(stderr, "epoch %d: loss %.4f, train accuracy %.2f%%", epoch, st.train_loss, 100 * st.train_accuracy);
            if (test) fprintf(stderr, ", test accuracy %.2f%%", 100 * st.test_accuracy);
            fprintf(stderr, " (%.1f s)\n", st.seconds);
        }
        nlohmann::json extra = {{"dataset", train.info().name}, {"epochs", epoch}, {"seed", opt.seed},
                                {"train_loss", st.train_loss}};
        if (test) extra["test_accuracy"] = st.test_accuracy;
        save_atomic(m, opt.out, metadata(arch, spec, train.info().class_names, extra));
    }
    return result;
}

void save_untrained(const std::string& arch, const InputSpec& spec, int num_classes,
                    const std::vector<std::string>& class_names, std::uint64_t seed, const std::string& path) {
    check_spec(spec);
    const std::string a = pick_arch(arch, spec);
    auto m = engine::build_model(a, spec, num_classes, seed);
    save_atomic(m, path, metadata(a, spec, class_names, {{"untrained", true}, {"seed", seed}}));
}

}  // namespace camscope

#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>

#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::cli {

bool g_quiet = false;

void DataFlags::add(CLI::App& app, bool required, bool with_split) {
    auto* o = app.add_option("--data,-d", path,
                             "dataset: CIFAR-10/100 binary folder or .bin, IDX folder (MNIST/Fashion-MNIST, .gz or "
                             "not), or an image folder with one sub-folder per class");
    if (required) o->required();
    if (with_split)
        app.add_option("--split", split, "which split to read")->check(CLI::IsMember({"test", "train"}))->capture_default_str();
    app.add_option("--format", format, "force the dataset format instead of detecting it")
        ->check(CLI::IsMember({"cifar10", "cifar100", "idx", "folder"}));
}

std::unique_ptr<Dataset> DataFlags::open() const {
    OpenOptions o;
    o.split = split;
    o.format = format;
    return open_dataset(path, o);
}

void SpecFlags::add(CLI::App& app) {
    app.add_option("--input-size", input_size, "model input size HxW (default: the model's metadata or the dataset's)");
    app.add_option("--mean", mean, "normalisation mean per channel (after scaling pixels to [0,1])")->delimiter(',');
    app.add_option("--std", std, "normalisation std per channel")->delimiter(',');
    app.add_option("--norm", norm, "normalisation preset: cifar10, cifar100, mnist, fashion-mnist, imagenet");
}

SpecOverrides SpecFlags::overrides() const {
    SpecOverrides o;
    if (!input_size.empty()) {
        auto parts = split(to_lower(input_size), 'x');
        try {
            if (parts.size() == 1) parts.push_back(parts[0]);
            if (parts.size() != 2) throw std::invalid_argument("");
            o.height = std::stoi(parts[0]);
            o.width = std::stoi(parts[1]);
        } catch (const std::exception&) {
            throw UsageError("--input-size must look like 32x32, got '" + input_size + "'");
        }
        if (*o.height <= 0 || *o.width <= 0) throw UsageError("--input-size must be positive");
    }
    if (!mean.empty()) o.mean = mean;
    if (!std.empty()) o.std = std;
    o.preset = norm;
    return o;
}

void EngineFlags::add(CLI::App& app) {
    app.add_option("--threads", threads, "intra-op CPU threads (default: all cores)");
    app.add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
    app.add_option("--batch-size,-b", batch_size, "images per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
}

void CamOptionFlags::add(CLI::App& app) {
    app.add_flag("--eigen-smooth", eigen_smooth,
                 "reduce the method's weighted activations by their first principal component instead of the sum "
                 "(less noise; sign oriented to agree with the plain map)");
    app.add_flag("--aug-smooth", aug_smooth,
                 "test-time augmentation: horizontal flip x brightness 0.9/1.0/1.1, maps flipped back and averaged "
                 "(6x the cost)");
    app.add_option("--max-channels", max_channels,
                   "scorecam/ablationcam: use only the N channels with the largest mean activation (0 = all; "
                   "each channel costs one forward per image)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--alpha", alpha,
                   "finercam: comparison strength in y_target - alpha * y_contrast (pytorch-grad-cam's FinerCAM alpha)")
        ->capture_default_str()
        ->check(
            [](const std::string& v) -> std::string {
                char* end = nullptr;
                const double d = std::strtod(v.c_str(), &end);
                if (end == v.c_str() || *end != '\0' || !std::isfinite(d) || d < 0 || d > 100)
                    return "--alpha must be a number in [0, 100], got '" + v + "'";
                return "";
            },
            "in [0, 100]");
}

void CamOptionFlags::apply(CamRequest& req) const {
    req.alpha = alpha;
    req.eigen_smooth = eigen_smooth;
    req.aug_smooth = aug_smooth;
    req.max_channels = max_channels;
}

EngineOptions EngineFlags::options(bool quiet) const {
    EngineOptions o;
    o.threads = threads;
    o.device = device;
    o.quiet = quiet;
    return o;
}

Model load_model(const std::string& path, const EngineFlags& ef, bool quiet) {
    const int n = configure_threads(ef.threads);
    Model m = Model::load(path, ef.options(quiet));
    if (!quiet) fprintf(stderr, "model %s (%s), %d CPU threads\n", path.c_str(), m.info().kind.c_str(), n);
    return m;
}

std::vector<size_t> parse_indices(const std::string& spec) {
    std::vector<size_t> out;
    for (const auto& part : split(spec, ',')) {
        const auto p = trim(part);
        if (p.empty()) continue;
        try {
            const auto dash = p.find('-');
            if (dash == std::string::npos) {
                out.push_back(std::stoul(p));
            } else {
                const size_t a = std::stoul(p.substr(0, dash)), b = std::stoul(p.substr(dash + 1));
                if (b < a) throw std::invalid_argument("");
                for (size_t i = a; i <= b; ++i) out.push_back(i);
            }
        } catch (const std::exception&) {
            throw UsageError("bad image index '" + p + "' (use e.g. 0,5,10-20)");
        }
    }
    if (out.empty()) throw UsageError("no image index given");
    return out;
}

int parse_class(const std::string& s, const std::vector<std::string>& names) {
    if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) {
        const int k = std::stoi(s);
        if (k < 0 || static_cast<size_t>(k) >= names.size())
            throw UsageError(format("class %d out of range: the model has %zu classes", k, names.size()));
        return k;
    }
    for (size_t i = 0; i < names.size(); ++i)
        if (to_lower(names[i]) == to_lower(s)) return static_cast<int>(i);
    throw UsageError("unknown class '" + s + "'");
}

}  // namespace camscope::cli

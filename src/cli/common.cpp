#include "common.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <limits>

#include "camscope/pipeline/analyze.hpp"
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
    const double big = std::numeric_limits<double>::max();
    app.add_option("--mean", mean, "normalisation mean per channel (after scaling pixels to [0,1])")
        ->delimiter(',')
        ->check(number_in(-big, big, "a finite number"));
    app.add_option("--std", std, "normalisation std per channel")->delimiter(',')->check(positive());
    app.add_option("--norm", norm, "normalisation preset: cifar10, cifar100, mnist, fashion-mnist, imagenet");
}

SpecOverrides SpecFlags::overrides() const {
    SpecOverrides o;
    if (!input_size.empty()) {
        auto parts = split(to_lower(input_size), 'x');
        if (parts.size() == 1) parts.push_back(parts[0]);
        auto side = [&](const std::string& t) {  // the whole text a number (std::stoi took "32abc")
            int v = 0;
            const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
            if (t.empty() || ec != std::errc() || end != t.data() + t.size())
                throw UsageError("--input-size must look like 32x32, got '" + input_size + "'");
            return v;
        };
        if (parts.size() != 2) throw UsageError("--input-size must look like 32x32, got '" + input_size + "'");
        o.height = side(parts[0]);
        o.width = side(parts[1]);
        if (*o.height <= 0 || *o.width <= 0) throw UsageError("--input-size must be positive");
    }
    if (!mean.empty()) o.mean = mean;
    if (!std.empty()) o.std = std;
    o.preset = norm;
    return o;
}

void EngineFlags::add(CLI::App& app) {
    app.add_option("--threads", threads, "intra-op CPU threads (default: all cores; at most the core count)")
        ->check(non_negative());
    app.add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
    app.add_option("--batch-size,-b", batch_size, "images per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
    add_layout_flags(app, layout, grid);
    add_logits_flag(app, logits);
}

void add_logits_flag(CLI::App& app, std::string& logits) {
    app.add_option("--logits", logits,
                   "which element of a tuple, list or dict model output holds the logits: INDEX (0, 1, -1 = last) "
                   "or KEY; default: the one floating N x K tensor among them (ambiguity is an error)");
}

void add_layout_flags(CLI::App& app, std::string& layout, std::string& grid) {
    app.add_option("--layout", layout,
                   "how to read the CAM layer's output: nchw, nhwc (channels last), ncl (N x C x L, read as "
                   "N x C x 1 x L unless --grid), tokens or tokens:PREFIX (N x T x C, PREFIX class/register tokens "
                   "before the grid); default: inferred per layer, see `camscope layers`");
    app.add_option("--grid", grid,
                   "the CAM layer's spatial grid HxW (tokens: T = prefix + H*W, with the input's aspect ratio; "
                   "ncl: L = H*W); default: inferred");
}

void CamOptionFlags::add(CLI::App& app) {
    app.add_flag("--eigen-smooth", cam.eigen_smooth,
                 "reduce the method's weighted activations by their first principal component instead of the sum "
                 "(less noise; sign oriented to agree with the plain map)");
    app.add_flag("--aug-smooth", cam.aug_smooth,
                 "test-time augmentation: horizontal flip x brightness 0.9/1.0/1.1, maps flipped back and averaged "
                 "(6x the cost)");
    app.add_option("--max-channels", cam.max_channels,
                   "scorecam/ablationcam: use only the N channels with the largest mean activation (0 = all; "
                   "each channel costs one forward per image)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--alpha", cam.alpha,
                   "finercam: comparison strength in y_target - alpha * y_contrast (pytorch-grad-cam's FinerCAM alpha)")
        ->capture_default_str();  // (its range and method: check_cam_settings, as for every edge)
}

EngineOptions EngineFlags::options(bool quiet) const {
    EngineOptions o;
    o.threads = threads;
    o.device = device;
    o.quiet = quiet;
    o.layout = layout;
    o.grid = grid;
    o.logits = logits;
    return o;
}

CLI::Validator number_in(double lo, double hi, const std::string& range) {
    CLI::Validator v(
        [lo, hi, range](std::string& in) {
            double x = 0;
            if (!CLI::detail::lexical_cast(in, x)) return "'" + in + "' is not a number (expected " + range + ")";
            if (!(x >= lo && x <= hi)) return "'" + in + "' is out of range: expected " + range;
            return std::string();
        },
        range);
    return v;
}

CLI::Validator non_negative() { return number_in(0, std::numeric_limits<double>::max(), ">= 0"); }

CLI::Validator positive() {
    return number_in(std::numeric_limits<double>::min(), std::numeric_limits<double>::max(), "a finite number > 0");
}

int apply_threads(int requested) {
    const int n = configure_threads(requested);
    if (requested > n && !g_quiet)
        fprintf(stderr, "note: --threads %d is more than the %d cores of this machine; using %d\n", requested, n, n);
    return n;
}

std::unique_ptr<Dataset> fit_to_model(Model& m, std::unique_ptr<Dataset> ds, const InputSpec& s) {
    return camscope::fit_to_model(m, std::move(ds), s, g_quiet);
}

void ModelRunFlags::add(CLI::App& app) {
    app.add_option("--model,-m", model, "TorchScript model file")->required();
    data.add(app);
    spec.add(app);
    eng.add(app);
}

ModelRun open_model_run(const ModelRunFlags& f) {
    auto ds = f.data.open();
    Model m = load_model(f.model, f.eng, g_quiet);
    InputSpec s = resolve_input_spec(m.info(), ds->info(), f.spec.overrides());
    ds = fit_to_model(m, std::move(ds), s);
    return {std::move(ds), std::move(m), s};
}

Model load_model(const std::string& path, const EngineFlags& ef, bool quiet) {
    const int n = apply_threads(ef.threads);
    Model m = Model::load(path, ef.options(quiet));
    if (!quiet) fprintf(stderr, "model %s (%s), %d CPU threads\n", path.c_str(), m.info().kind.c_str(), n);
    return m;
}

std::vector<size_t> parse_indices(const std::string& spec, size_t size) {
    // Strict: std::stoul would read "-1" as 2^64-1 and "3--1" as the range 3..2^64-1.
    auto number = [&](std::string_view t, const std::string& part) {
        size_t v = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size())
            throw UsageError("bad image index '" + part + "' (use e.g. 0,5,10-20: numbers and ascending ranges)");
        if (v >= size)
            throw UsageError(format("image index %s out of range: the dataset has %zu images (0..%zu)",
                                    std::string(t).c_str(), size, size ? size - 1 : 0));
        return v;
    };
    std::vector<size_t> out;
    for (const auto& part : split(spec, ',')) {
        const auto p = trim(part);
        if (p.empty()) continue;
        const auto dash = p.find('-');
        if (dash == std::string::npos) {
            out.push_back(number(p, p));
            continue;
        }
        const std::string_view whole(p);
        const size_t a = number(whole.substr(0, dash), p), b = number(whole.substr(dash + 1), p);
        if (b < a) throw UsageError("bad image range '" + p + "': it must ascend (e.g. 10-20)");
        for (size_t i = a; i <= b; ++i) out.push_back(i);
    }
    if (out.empty()) throw UsageError("no image index given");
    return out;
}

}  // namespace camscope::cli

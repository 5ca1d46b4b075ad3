// camscope_bench --dataset-rss PATH: a dataset streamed through run_pass with the built-in "cnn"
// (1x28x28, 10 classes), current/peak RSS reported at each stage.
#include <algorithm>
#include <cstdio>

#include "bench.hpp"
#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/engine/train.hpp"
#include "camscope/pipeline/pipeline.hpp"

namespace camscope_bench {

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

}  // namespace camscope_bench

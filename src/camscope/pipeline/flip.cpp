#include "camscope/pipeline/flip.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "camscope/faith/faithfulness.hpp"
#include "camscope/pipeline/evaluate.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/parallel.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

void FlipSettings::validate() const {
    if (!(fraction > 0 && fraction < 1))
        throw UsageError(format("flip test: the removed fraction must be in (0, 1), got %g", fraction));
    if (!(noise >= 0) || !std::isfinite(noise))
        throw UsageError(format("flip test: the imputation noise must be >= 0, got %g", noise));
    if (batch_size <= 0) throw UsageError(format("flip test: the batch size must be positive, got %d", batch_size));
}

std::size_t flip_sample_size(const FlipSettings& s, std::size_t analysed, std::size_t eligible) {
    std::size_t m = std::min(s.n, eligible);
    if (!s.explicit_n) m = std::min(m, std::max<std::size_t>(16, analysed / 16));
    return m;
}

std::vector<std::uint8_t> flip_mask(const float* cam, std::size_t hw, double fraction) {
    const auto order = faith::rank_pixels(cam, hw);
    const auto k = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(hw)));
    std::vector<std::uint8_t> removed(hw, 0);
    for (std::size_t j = 0; j < std::min(k, hw); ++j) removed[static_cast<std::size_t>(order[j])] = 1;
    return removed;
}

namespace {

/// The normalised input x (C×H×W) back to 8-bit pixels (H×W×C): p = round(255·(x·std + mean)).
Image to_pixels(const float* x, const InputSpec& spec) {
    Image img;
    img.width = spec.width;
    img.height = spec.height;
    img.channels = spec.channels;
    const std::size_t plane = static_cast<std::size_t>(spec.height) * spec.width;
    img.pixels.resize(plane * spec.channels);
    const auto& mean = spec.norm.mean;
    const auto& sd = spec.norm.std;
    for (int c = 0; c < spec.channels; ++c) {
        const float m = mean.empty() ? 0.0f : mean[mean.size() == 1 ? 0 : c];
        const float s = sd.empty() ? 1.0f : sd[sd.size() == 1 ? 0 : c];
        for (std::size_t i = 0; i < plane; ++i) {
            const double v = std::lround(255.0 * (x[c * plane + i] * s + m));
            img.pixels[i * spec.channels + c] = static_cast<std::uint8_t>(std::clamp(v, 0.0, 255.0));
        }
    }
    return img;
}

}  // namespace

FlipSummary run_flip_test(Model& model, const Dataset& data, const InputSpec& spec, const Report& r,
                          const AnalysisInput& in, const FlipSettings& s) {
    const auto t0 = std::chrono::steady_clock::now();
    s.validate();
    FlipSummary out;
    out.fraction = s.fraction;
    out.noise = s.noise;
    out.seed = s.seed;
    const std::size_t fhw = static_cast<std::size_t>(in.fh) * in.fw;
    if (in.fh <= 0 || in.fw <= 0 || in.cam_pred.size() != in.n * fhw)
        throw Error(format("flip test: the analysis holds %zu predicted-class CAM values for %zu images of %dx%d",
                           in.cam_pred.size(), in.n, in.fh, in.fw));
    std::vector<std::size_t> eligible;  // report rows
    for (const auto& x : r.rows) {
        if (x.pred == x.label) continue;
        ++out.errors;
        if (x.pred_cam_degenerate) ++out.blank;
        else eligible.push_back(x.row);
    }
    out.eligible = eligible.size();
    const std::size_t m = flip_sample_size(s, r.n, eligible.size());
    const auto pick = m > 0 ? spread_indices(eligible.size(), m) : std::vector<std::size_t>{};
    out.selection =
        pick.empty() && !eligible.empty() ? std::string("none (the test is off)")
        : pick.size() == eligible.size()
            ? format("all %zu errors whose predicted-class CAM has positive evidence", eligible.size())
            : format("%zu of the %zu errors whose predicted-class CAM has positive evidence, evenly spread in row "
                     "order: entry floor(j*%zu/%zu), j = 0..%zu (at most max(16, images/16) unless set)",
                     pick.size(), eligible.size(), eligible.size(), pick.size(), pick.size() - 1);
    if (out.blank > 0) out.selection += format("; %zu errors with a blank map left out", out.blank);

    const faith::Shape shape{spec.channels, spec.height, spec.width};
    const std::size_t per = shape.size(), hw = shape.pixels();
    const int threads = std::max(1, model.threads());
    // The input of report row `row` (read into x) with its evidence removed: deterministic, the same
    // every time. Reading stays on the caller's thread (a dataset need not be read concurrently),
    // the imputations run on every core.
    auto read_input = [&](std::size_t row, float* x) {
        to_input(data.get(static_cast<std::size_t>(in.indices[row])).image, spec, x);
    };
    auto remove_evidence = [&](std::size_t row, float* x) {
        const auto cam = cams_at_input_size(in.cam_pred.data() + row * fhw, 1, in.fh, in.fw, spec.height, spec.width);
        faith::impute_noisy_linear(x, shape, flip_mask(cam.data(), hw, s.fraction), s.noise,
                                   faith::mix_seed(s.seed, static_cast<std::uint64_t>(in.indices[row])));
    };
    Progress bar("flip test", pick.size(), s.progress);
    const std::size_t bs = static_cast<std::size_t>(s.batch_size);
    for (std::size_t start = 0; start < pick.size(); start += bs) {
        const std::size_t n = std::min(bs, pick.size() - start);
        std::vector<float> x(per * n);
        for (std::size_t i = 0; i < n; ++i) read_input(eligible[pick[start + i]], x.data() + i * per);
        parallel_for(n, threads, [&](std::size_t i) { remove_evidence(eligible[pick[start + i]], x.data() + i * per); });
        const BatchResult res = model.run(x.data(), static_cast<int>(n), spec);
        const int k = res.num_classes;
        const auto probs = metrics::softmax_rows(res.logits.data(), n, k);
        const auto after = metrics::argmax_rows(res.logits.data(), n, k);
        for (std::size_t i = 0; i < n; ++i) {
            const RowRef& ref = r.rows[eligible[pick[start + i]]];
            if (ref.label >= k || ref.pred >= k)
                throw Error(format("flip test: the model gives %d classes; row %zu has label %d, prediction %d", k,
                                   ref.row, ref.label, ref.pred));
            const float* p = probs.data() + i * static_cast<std::size_t>(k);
            FlipRow f;
            f.row = ref.row;
            f.index = ref.index;
            f.label = ref.label;
            f.pred = ref.pred;
            f.confidence = ref.confidence;
            f.after = after[i];
            f.p_after = p[f.after];
            f.p_pred_after = p[ref.pred];
            f.p_true_after = p[ref.label];
            f.outcome = f.after == ref.label  ? FlipOutcome::flips_to_true
                        : f.after == ref.pred ? FlipOutcome::stays
                                              : FlipOutcome::flips_elsewhere;
            out.rows.push_back(f);
        }
        out.forwards += n;
        bar.advance(n);
    }
    bar.finish();
    summarize_flips(out, r.class_names, 8, 3, r.failure_modes ? r.failure_modes->mode_of_row : std::vector<int>{});
    // The sheets' removed-evidence images, imputed again (the same seeds give the same pixels).
    std::vector<std::size_t> shown;
    for (const auto& sh : out.sheets)
        for (std::size_t i : sh.rows) shown.push_back(out.rows[i].row);
    std::sort(shown.begin(), shown.end());
    shown.erase(std::unique(shown.begin(), shown.end()), shown.end());
    std::vector<float> xs(per * shown.size());
    for (std::size_t i = 0; i < shown.size(); ++i) read_input(shown[i], xs.data() + i * per);
    std::vector<Image> imgs(shown.size());
    parallel_for(shown.size(), threads, [&](std::size_t i) {
        remove_evidence(shown[i], xs.data() + i * per);
        imgs[i] = to_pixels(xs.data() + i * per, spec);
    });
    for (std::size_t i = 0; i < shown.size(); ++i) out.removed_images[shown[i]] = std::move(imgs[i]);
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

}  // namespace camscope

#include "camscope/pipeline/sanity.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include "camscope/faith/similarity.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

namespace {

/// The rows of the sample: `k` equal strata of the candidate rows, one uniformly chosen in each.
std::vector<size_t> even_sample(const std::vector<size_t>& candidates, size_t k, std::mt19937_64& rng) {
    std::vector<size_t> out;
    const size_t n = candidates.size();
    k = std::min(k, n);
    for (size_t s = 0; s < k; ++s) {
        const size_t b = s * n / k, e = (s + 1) * n / k;  // e > b since k <= n
        out.push_back(candidates[b + std::uniform_int_distribution<size_t>(0, e - b - 1)(rng)]);
    }
    return out;
}

/// Maps (slots × n × H × W at the input size) of `model` for the images `x` and the targets.
std::vector<float> maps_at_input(Model& model, const std::vector<float>& x, int n, const InputSpec& spec,
                                 const CamSettings& cam, const std::vector<std::vector<int>>& targets,
                                 const std::vector<long long>& ids) {
    CamRequest req;
    req.settings() = cam;
    req.targets = targets;
    req.image_ids = ids;
    const BatchResult res = model.run(x.data(), n, spec, &req);
    return cams_at_input_size(res.cams.data(), res.slots * n, res.fh, res.fw, spec.height, spec.width);
}

/// Mean similarity of map i of `a` with map i of `b` (n maps of hw values each).
faith::SanityStep compare(const float* a, const float* b, long long n, int h, int w) {
    faith::SanityStep st;
    const size_t hw = static_cast<size_t>(h) * w;
    for (long long i = 0; i < n; ++i) {
        const float* p = a + i * hw;
        const float* q = b + i * hw;
        st.spearman += faith::spearman(p, q, hw);
        st.ssim += faith::ssim(p, q, h, w);
        st.blank += std::none_of(q, q + hw, [](float v) { return v > 0; });
    }
    st.n = n;
    if (n > 0) {
        st.spearman /= static_cast<double>(n);
        st.ssim /= static_cast<double>(n);
    }
    return st;
}

}  // namespace

std::optional<faith::SanitySummary> sanity_gate(const Report& r, Model& m, const Dataset& data, const InputSpec& spec,
                                                const CamSettings& cam, const SanityOptions& opt) {
    if (opt.images == 0) return std::nullopt;
    if (cam.layers.size() != 1)
        throw UsageError(format("sanity gate: the CAMs need exactly one resolved layer, got %zu", cam.layers.size()));
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<size_t> candidates;
    for (size_t i = 0; i < r.rows.size(); ++i)
        if (!r.rows[i].pred_cam_degenerate) candidates.push_back(i);
    if (candidates.size() < 2) return std::nullopt;
    std::mt19937_64 rng(opt.seed);
    const std::vector<size_t> rows = even_sample(candidates, opt.images, rng);
    const int n = static_cast<int>(rows.size());
    const int k = r.num_classes;

    faith::SanitySummary s;
    s.method = cam.method;
    s.layer = cam.layers[0];
    s.n = n;
    s.requested = static_cast<long long>(opt.images);
    s.seed = opt.seed;
    s.draws = std::max(1, opt.draws);
    s.threshold = opt.threshold;
    s.map_h = spec.height;
    s.map_w = spec.width;

    const size_t per = static_cast<size_t>(spec.channels) * spec.height * spec.width;
    std::vector<float> x(per * n);
    std::vector<int> pred(n), other(n);
    std::vector<long long> ids(n);
    for (int i = 0; i < n; ++i) {
        const RowRef& ref = r.rows[rows[i]];
        to_input(data.get(static_cast<size_t>(ref.index)).image, spec, x.data() + i * per);
        pred[i] = ref.pred;
        ids[i] = ref.index;
        // A random class other than the prediction (Random Logit); none with one class.
        int c = k > 1 ? std::uniform_int_distribution<int>(0, k - 2)(rng) : ref.pred;
        other[i] = k > 1 && c >= ref.pred ? c + 1 : c;
    }
    // The model's own maps in batches of batch_size rows (the engine's batches elsewhere too).
    const int bs = std::max(1, opt.batch_size);
    const size_t hw = static_cast<size_t>(spec.height) * spec.width;
    auto run_all = [&](Model& model, const std::vector<std::vector<int>>& targets) {
        std::vector<float> out(targets.size() * n * hw);
        for (int b = 0; b < n; b += bs) {
            const int c = std::min(bs, n - b);
            std::vector<float> xb(x.begin() + static_cast<long>(b * per), x.begin() + static_cast<long>((b + c) * per));
            std::vector<std::vector<int>> tb;
            for (const auto& t : targets) tb.emplace_back(t.begin() + b, t.begin() + b + c);
            const auto maps = maps_at_input(model, xb, c, spec, cam, tb,
                                            std::vector<long long>(ids.begin() + b, ids.begin() + b + c));
            for (size_t sl = 0; sl < targets.size(); ++sl)
                std::copy(maps.begin() + static_cast<long>(sl * c * hw), maps.begin() + static_cast<long>((sl + 1) * c * hw),
                          out.begin() + static_cast<long>((sl * n + b) * hw));
        }
        return out;
    };
    const bool logit = k > 1;
    const auto original = run_all(m, logit ? std::vector<std::vector<int>>{pred, other} : std::vector<std::vector<int>>{pred});
    if (logit) {
        s.random_logit = compare(original.data(), original.data() + n * hw, n, spec.height, spec.width);
        s.random_logit.layer = "random logit";
    }
    // The cascade: the modules above the layer, output end first, in at most max_steps groups.
    const auto above = m.modules_above(s.layer, spec);
    const size_t steps = std::min(above.size(), static_cast<size_t>(std::max(1, opt.max_steps)));
    for (size_t st = 0; st < steps; ++st) {
        const size_t upto = (st + 1) * above.size() / steps;  // modules randomised at this step
        const std::vector<std::string> mods(above.begin(), above.begin() + static_cast<long>(upto));
        faith::SanityStep row;
        const int draws = std::max(1, opt.draws);
        for (int d = 0; d < draws; ++d) {
            Model rnd = m.randomized(mods, opt.seed + static_cast<std::uint64_t>(d));
            const auto maps = run_all(rnd, {pred});
            const faith::SanityStep one = compare(original.data(), maps.data(), n, spec.height, spec.width);
            row.spearman += one.spearman / draws;
            row.ssim += one.ssim / draws;
            row.blank += one.blank;
        }
        row.n = n;
        row.layer = mods.back();
        row.modules = static_cast<int>(upto);
        s.cascade.push_back(std::move(row));
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s;
}

}  // namespace camscope

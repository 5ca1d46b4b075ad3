#include "camscope/pipeline/evaluate.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <unordered_map>

#include "camscope/report/metrics.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/parallel.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

EvaluateOptions quick_faithfulness_options(std::size_t requested_n, bool explicit_n, std::size_t analysed) {
    EvaluateOptions o;
    for (const auto& m : default_faithfulness_methods())
        if (m != "eigencam") o.methods.push_back(m);
    o.params.steps = 4;
    o.params.road_percentiles = {25, 75};
    o.n = std::min(requested_n, analysed);
    if (!explicit_n) o.n = std::min(o.n, std::max<std::size_t>(10, analysed / (8 * quick_check_cost(o))));
    return o;
}

std::size_t quick_check_cost(const EvaluateOptions& o) {
    // Per method: its distinct perturbed inputs (the clean, the all-mean and the blurred image are
    // shared by every method of an image and scored once) and its CAM (a forward and a backward,
    // about two forwards).
    const std::size_t m = o.methods.size(), rows = o.params.rows_per_image();
    return m * (rows > 3 ? rows - 3 : rows) + 3 + 2 * m;
}

std::vector<std::string> candidate_layers(const std::vector<LayerInfo>& layers, const std::string& chosen,
                                          std::size_t max_layers) {
    // Any layout a CAM can read (channels first or last, tokens with a grid), of more than one position.
    auto spatial = [](const LayerInfo& l) { return l.layout.kind != LayoutKind::none && l.layout.h * l.layout.w > 1; };
    auto depth = [](const std::string& p) { return std::count(p.begin(), p.end(), '.'); };
    std::map<long, std::vector<std::string>> by_depth;
    for (const auto& l : layers)
        if (spatial(l)) by_depth[depth(l.path)].push_back(l.path);
    std::vector<std::string> out;
    for (const auto& [d, paths] : by_depth)
        if (paths.size() >= 2) {
            out = paths;
            break;
        }
    if (out.empty() && !by_depth.empty()) out = by_depth.begin()->second;
    if (out.size() > max_layers) out.erase(out.begin(), out.end() - static_cast<long>(max_layers));
    if (!chosen.empty() && std::find(out.begin(), out.end(), chosen) == out.end()) {
        if (out.size() >= max_layers && !out.empty()) out.erase(out.begin());
        out.push_back(chosen);
    }
    return out;
}

std::vector<std::string> default_faithfulness_methods() {
    std::vector<std::string> out;
    for (const auto& m : cam_methods())
        if (m != "scorecam" && m != "ablationcam" && m != "finercam") out.push_back(m);
    return out;
}

void check_cam_methods(const std::vector<std::string>& methods) {
    const auto known = cam_methods();
    if (methods.empty()) throw UsageError("no CAM method given; available: " + join(known, ", "));
    for (const auto& m : methods)
        if (std::find(known.begin(), known.end(), m) == known.end())
            throw UsageError("unknown CAM method '" + m + "'; available: " + join(known, ", "));
    for (size_t i = 0; i < methods.size(); ++i)
        for (size_t j = i + 1; j < methods.size(); ++j)
            if (methods[i] == methods[j]) throw UsageError("CAM method '" + methods[i] + "' is named twice");
}

std::vector<std::size_t> spread_indices(std::size_t size, std::size_t n) {
    if (n == 0 || n >= size) n = size;
    std::vector<std::size_t> out(n);
    for (std::size_t j = 0; j < n; ++j) out[j] = j * size / n;  // size·j < 2^64 for any real dataset
    return out;
}

namespace {

/// FNV-1a over a row's bytes: finds rows that are likely equal (then compared in full).
std::uint64_t row_hash(const float* row, std::size_t count) {
    std::uint64_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const unsigned char*>(row);
    for (std::size_t i = 0; i < count * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/// Perturbed inputs waiting to be scored, one image (every method's perturbations of it) at a
/// time; flushed in full batches across images. All methods of an image score the same target
/// class, so an input that occurs more than once (the clean image in every method, the all-mean
/// image that ends every deletion curve, the blurred image that starts every insertion curve, and
/// whatever two methods with the same pixel order share) is scored once: the same numbers for
/// fewer forward passes.
class ScoringQueue {
public:
    ScoringQueue(Model& model, const InputSpec& spec, int batch_size, std::vector<faith::ImageRecord>& records,
                 Progress& bar)
        : model_(model), spec_(spec), bs_(batch_size), records_(records), bar_(bar) {}

    /// perts[m], records[m]: method m's perturbations of one image and its record.
    void push(std::vector<faith::Perturbations> perts, std::vector<std::size_t> records, int target) {
        Item it{std::move(perts), std::move(records), target, {}, {}};
        const std::size_t per = it.perts.front().shape.size();
        std::unordered_multimap<std::uint64_t, int> seen;  // hash -> index into it.unique
        for (const auto& pe : it.perts) {
            total_rows_ += static_cast<std::size_t>(pe.rows);
            held_ += static_cast<std::size_t>(pe.rows);
            std::vector<int> map(static_cast<std::size_t>(pe.rows));
            for (int row = 0; row < pe.rows; ++row) {
                const float* x = pe.inputs.data() + static_cast<std::size_t>(row) * per;
                const std::uint64_t h = row_hash(x, per);
                int found = -1;
                for (auto [b, e] = seen.equal_range(h); b != e && found < 0; ++b)
                    if (std::memcmp(it.unique[static_cast<std::size_t>(b->second)], x, per * sizeof(float)) == 0)
                        found = b->second;
                if (found < 0) {
                    found = static_cast<int>(it.unique.size());
                    it.unique.push_back(x);
                    seen.emplace(h, found);
                }
                map[static_cast<std::size_t>(row)] = found;
            }
            it.row_of.push_back(std::move(map));
        }
        rows_ += it.unique.size();
        scored_rows_ += it.unique.size();
        items_.push_back(std::move(it));
        // Full batches, bounded memory: a few batches' worth of rows to score, or ~256 MB of inputs held.
        if (rows_ >= static_cast<std::size_t>(4 * bs_) || held_ * per * sizeof(float) > (256u << 20)) flush();
    }

    void flush() {
        if (items_.empty()) return;
        const std::size_t per = items_.front().perts.front().shape.size();
        std::vector<std::vector<float>> probs(items_.size());  // per item: p(target) of each distinct row
        std::vector<float> x;
        std::vector<std::pair<std::size_t, int>> owner;  // (item, target) of each batch row
        auto run = [&] {
            const int m = static_cast<int>(owner.size());
            const BatchResult r = model_.run(x.data(), m, spec_);
            const auto p = metrics::softmax_rows(r.logits.data(), static_cast<size_t>(m), r.num_classes);
            for (int i = 0; i < m; ++i)
                probs[owner[i].first].push_back(p[static_cast<size_t>(i) * r.num_classes + owner[i].second]);
            x.clear();
            owner.clear();
        };
        for (std::size_t it = 0; it < items_.size(); ++it)
            for (const float* row : items_[it].unique) {
                x.insert(x.end(), row, row + per);
                owner.emplace_back(it, items_[it].target);
                if (owner.size() == static_cast<std::size_t>(bs_)) run();
            }
        if (!owner.empty()) run();
        for (std::size_t it = 0; it < items_.size(); ++it) {
            const Item& item = items_[it];
            for (std::size_t m = 0; m < item.perts.size(); ++m) {
                std::vector<float> p(item.row_of[m].size());
                for (std::size_t row = 0; row < p.size(); ++row)
                    p[row] = probs[it][static_cast<std::size_t>(item.row_of[m][row])];
                records_[item.records[m]].scores = faith::score(item.perts[m], p);
                bar_.advance();
            }
        }
        items_.clear();
        rows_ = held_ = 0;
    }

    std::size_t total_rows() const { return total_rows_; }
    std::size_t scored_rows() const { return scored_rows_; }

private:
    struct Item {
        std::vector<faith::Perturbations> perts;  // per method
        std::vector<std::size_t> records;         // per method
        int target;
        std::vector<const float*> unique;      // distinct rows (into perts' inputs)
        std::vector<std::vector<int>> row_of;  // [method][row] -> index into unique
    };
    Model& model_;
    const InputSpec& spec_;
    int bs_;
    std::vector<faith::ImageRecord>& records_;
    Progress& bar_;
    std::vector<Item> items_;
    std::size_t rows_ = 0, held_ = 0, total_rows_ = 0, scored_rows_ = 0;
};

}  // namespace

faith::Summary evaluate_cams(Model& model, const Dataset& data, const InputSpec& spec,
                             const std::vector<std::string>& class_names, const EvaluateOptions& opt) {
    const auto t0 = std::chrono::steady_clock::now();
    check_cam_methods(opt.methods);
    opt.params.validate();
    if (opt.batch_size <= 0) throw UsageError("--batch-size must be positive");
    const faith::Shape shape{spec.channels, spec.height, spec.width};
    const std::size_t per = shape.size(), hw = shape.pixels();
    std::vector<std::string> layers = opt.layers;
    if (layers.empty()) layers.push_back(model.resolve_layer("", spec));

    const auto idx = spread_indices(data.size(), opt.n);
    const std::size_t nm = opt.methods.size();
    std::vector<faith::ImageRecord> records;
    records.reserve(idx.size() * nm);
    std::vector<faith::LayerCheck> checks;
    if (!opt.check_layers.empty()) {
        check_cam_methods({opt.check_method});
        for (const auto& l : opt.check_layers) checks.push_back({opt.check_method, l, 0, 0, 0, 0});
    }
    Progress bar(opt.label, idx.size() * nm, opt.progress);
    ScoringQueue queue(model, spec, opt.batch_size, records, bar);
    const std::size_t bs = static_cast<std::size_t>(opt.batch_size);
    const int threads = std::max(1, model.threads());
    const std::size_t rows_per_image = opt.params.rows_per_image() * nm;
    for (std::size_t start = 0; start < idx.size(); start += bs) {
        const std::size_t n = std::min(bs, idx.size() - start);
        std::vector<float> x(per * n);
        std::vector<int> labels(n);
        for (std::size_t i = 0; i < n; ++i) {
            const Sample s = data.get(idx[start + i]);
            if (s.label < 0 || static_cast<std::size_t>(s.label) >= class_names.size())
                throw Error(format("%s: sample %zu has label %d, outside 0..%zu", data.info().name.c_str(),
                                   idx[start + i], s.label, class_names.size() - 1));
            labels[i] = s.label;
            to_input(s.image, spec, x.data() + i * per);
        }
        // Every method's maps of the batch, at the input size, and which of them are blank.
        std::vector<int> preds;  // fixed by the first method's forward: every method explains the same class
        std::vector<std::vector<float>> up(nm);
        std::vector<std::vector<char>> blank(nm, std::vector<char>(n));
        for (std::size_t m = 0; m < nm; ++m) {
            CamRequest req;
            req.settings() = opt.cam_options;
            req.perturb_batch = opt.batch_size;
            req.method = opt.methods[m];
            req.layers = layers;
            req.targets = {preds.empty() ? std::vector<int>(n, -1) : preds};
            req.image_ids.assign(idx.begin() + start, idx.begin() + start + n);
            const BatchResult r = model.run(x.data(), static_cast<int>(n), spec, &req);
            if (preds.empty()) preds = metrics::argmax_rows(r.logits.data(), n, r.num_classes);
            const std::size_t fhw = static_cast<std::size_t>(r.fh) * r.fw;
            for (std::size_t i = 0; i < n; ++i) blank[m][i] = metrics::degenerate_cam(r.cams.data() + i * fhw, fhw);
            up[m] = cams_at_input_size(r.cams.data(), static_cast<int>(n), r.fh, r.fw, spec.height, spec.width);
        }
        // The perturbations (ROAD's imputations above all) are built on every core while the model
        // waits, in groups of images of at most ~256 MB of inputs, then queued image by image.
        const std::size_t group = std::clamp<std::size_t>((256u << 20) / (rows_per_image * per * sizeof(float)), 1, n);
        for (std::size_t g0 = 0; g0 < n; g0 += group) {
            const std::size_t gn = std::min(group, n - g0);
            std::vector<faith::Perturbations> perts(gn * nm);
            // One noise seed per image, shared by the methods (common random numbers).
            parallel_for(perts.size(), threads, [&](std::size_t t) {
                const std::size_t i = g0 + t / nm, m = t % nm;
                perts[t] = faith::perturb(x.data() + i * per, up[m].data() + i * hw, shape, opt.params, idx[start + i]);
            });
            for (std::size_t k = 0; k < gn; ++k) {
                const std::size_t i = g0 + k;
                std::vector<faith::Perturbations> mine;
                std::vector<std::size_t> recs;
                for (std::size_t m = 0; m < nm; ++m) {
                    faith::ImageRecord rec;
                    rec.method = static_cast<int>(m);
                    rec.index = static_cast<int>(idx[start + i]);
                    rec.label = labels[i];
                    rec.pred = preds[i];
                    rec.degenerate = blank[m][i];
                    records.push_back(rec);
                    recs.push_back(records.size() - 1);
                    mine.push_back(std::move(perts[k * nm + m]));
                }
                queue.push(std::move(mine), std::move(recs), preds[i]);
            }
        }
        for (auto& c : checks) {  // the same images and targets at other layers: maps only, no scoring
            CamRequest req;
            req.settings() = opt.cam_options;
            req.perturb_batch = opt.batch_size;
            req.method = c.method;
            req.layers = {c.layer};
            req.targets = {preds};
            const BatchResult r = model.run(x.data(), static_cast<int>(n), spec, &req);
            const std::size_t fhw = static_cast<std::size_t>(r.fh) * r.fw;
            c.fh = r.fh;
            c.fw = r.fw;
            for (std::size_t i = 0; i < n; ++i) {
                ++c.n;
                c.degenerate += metrics::degenerate_cam(r.cams.data() + i * fhw, fhw);
            }
        }
    }
    queue.flush();
    bar.finish();

    faith::Summary s = faith::summarize(records, opt.methods, class_names, opt.params);
    s.layer_checks = std::move(checks);
    s.dataset_path = data.info().name;
    s.model_path = model.info().path;
    s.layer = join(layers, "+");
    s.channels = spec.channels;
    s.input_h = spec.height;
    s.input_w = spec.width;
    s.blur_sigma = opt.params.sigma_for(spec.height, spec.width);
    s.selection =
        idx.size() == data.size()
            ? format("all %zu images of the %s split", data.size(), data.info().split.c_str())
            : format("%zu of %zu images of the %s split, evenly spread: index floor(j*%zu/%zu), j = 0..%zu", idx.size(),
                     data.size(), data.info().split.c_str(), data.size(), idx.size(), idx.size() - 1);
    s.inputs = queue.total_rows();
    s.inputs_scored = queue.scored_rows();
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s;
}

}  // namespace camscope

#include "camscope/pipeline/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <map>
#include <set>
#include <future>
#include <numeric>

#include "camscope/image/image.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/parallel.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

InputSpec resolve_input_spec(const ModelInfo& model, const DatasetInfo& data, const SpecOverrides& ov,
                             bool live_module) {
    return resolve_input_spec(ModelInput{model.input, model.path, live_module}, data, ov);
}

void check_class_count(Model& model, const Dataset& data, const InputSpec& spec) {
    const int k = model.num_classes(spec);
    if (static_cast<size_t>(k) != data.num_classes())
        throw Error(format("%s outputs %d classes but the dataset %s has %zu", model.info().path.c_str(), k,
                           data.info().name.c_str(), data.num_classes()));
}

namespace {

/// Names that say which class a label is: not "class_0", "class_1", … (made up for data without names).
bool informative(const std::vector<std::string>& names) {
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] != "class_" + std::to_string(i)) return true;
    return false;
}

}  // namespace

ClassMatch match_classes(Model& model, const Dataset& data, const InputSpec& spec) {
    const int k = model.num_classes(spec);
    const auto& mnames = model.info().class_names;
    const auto& dnames = data.info().class_names;
    const std::string& mpath = model.info().path;
    if (!mnames.empty() && mnames.size() != static_cast<size_t>(k))
        throw Error(format("%s: its camscope.json metadata names %zu classes but the model outputs %d: the metadata "
                           "does not belong to this model",
                           mpath.c_str(), mnames.size(), k));
    if (static_cast<size_t>(k) != data.num_classes())
        throw Error(format("%s outputs %d classes but the dataset %s has %zu", mpath.c_str(), k,
                           data.info().name.c_str(), data.num_classes()));
    ClassMatch m;
    const std::string& source = data.info().names_source;
    if (mnames.empty() || !informative(mnames) || source.empty() || mnames == dnames) return m;
    std::optional<std::vector<int>> order = class_order_by_name(dnames, mnames);
    if (!order) {
        std::set<std::string> dkeys, mkeys;
        for (const auto& n : dnames) dkeys.insert(class_name_key(n));
        for (const auto& n : mnames) mkeys.insert(class_name_key(n));
        std::vector<std::string> missing, extra;  // dataset names the model does not have, and the reverse
        for (const auto& n : dnames)
            if (!mkeys.count(class_name_key(n))) missing.push_back(n);
        for (const auto& n : mnames)
            if (!dkeys.count(class_name_key(n))) extra.push_back(n);
        throw Error(format("%s names its classes differently from the dataset %s, so its outputs cannot be matched "
                           "to the labels:\n  model (camscope.json): %s\n  dataset (%s): %s\n  only in the dataset: %s; "
                           "only in the model: %s",
                           mpath.c_str(), data.info().name.c_str(), bracketed(mnames).c_str(), source.c_str(),
                           bracketed(dnames).c_str(), join(missing, ", ").c_str(), join(extra, ", ").c_str()));
    }
    const std::vector<int>& to_model = *order;
    if (std::is_sorted(to_model.begin(), to_model.end())) return m;  // the same names, as a folder can spell them
    std::vector<std::string> moved;
    for (int c = 0; c < k; ++c)
        if (to_model[c] != c) moved.push_back(format("%s %d->%d", dnames[c].c_str(), c, to_model[c]));
    m.note = format("note: the dataset %s has the model's class names in another order (%s); its labels are mapped "
                    "to the model's classes by name: %s",
                    data.info().name.c_str(), source.c_str(), join(moved, ", ").c_str());
    m.to_model = std::move(*order);
    return m;
}

int PassOutput::pred(size_t i) const {
    const float* p = &probs[i * num_classes];
    return static_cast<int>(std::max_element(p, p + num_classes) - p);
}

float PassOutput::confidence(size_t i) const {
    const float* p = &probs[i * num_classes];
    return *std::max_element(p, p + num_classes);
}

std::vector<int> top_k(const PassOutput& out, size_t i, int k) {
    std::vector<int> idx(out.num_classes);
    std::iota(idx.begin(), idx.end(), 0);
    const float* p = &out.probs[i * out.num_classes];
    k = std::min(k, out.num_classes);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [p](int a, int b) { return p[a] > p[b]; });
    idx.resize(k);
    return idx;
}

namespace {

struct HostBatch {
    std::vector<float> x;
    std::vector<int> labels, coarse;
};

HostBatch load(const Dataset& data, const InputSpec& spec, const std::vector<size_t>& idx) {
    const size_t per = static_cast<size_t>(spec.channels) * spec.height * spec.width;
    HostBatch b;
    b.x.resize(per * idx.size());
    b.labels.resize(idx.size());
    b.coarse.resize(idx.size());
    // Image folders are decoded on every core (large photos take a fraction of a second each).
    // Records of raw pixels (CIFAR, IDX, arrays) are a copy each: on the caller's thread, since a
    // helper thread started per batch slowed the model's own threads more than it saved
    // (resnet56, 3,000 CIFAR images, 2 cores, warm: the pass 0.99-1.33x the limit forward with
    // this, 1.09-1.31x with the helper, in interleaved runs). The error of the first bad sample in
    // index order is the one reported, as in a sequential read.
    std::vector<std::exception_ptr> errors(idx.size());
    parallel_for(idx.size(), data.info().format == "folder" ? worker_threads(0) : 1, [&](size_t i) {
        try {
            Sample s = data.get(idx[i]);
            if (s.label < 0 || static_cast<size_t>(s.label) >= data.num_classes())
                throw Error(format("%s: sample %zu has label %d, outside 0..%zu", data.info().name.c_str(), idx[i],
                                   s.label, data.num_classes() - 1));
            to_input(s.image, spec, b.x.data() + i * per);
            b.labels[i] = s.label;
            b.coarse[i] = s.coarse;
        } catch (...) {
            errors[i] = std::current_exception();
        }
    });
    for (const auto& e : errors)
        if (e) std::rethrow_exception(e);
    return b;
}

}  // namespace

PassOutput run_pass(Model& model, const Dataset& data, const InputSpec& spec, const PassOptions& opt) {
    if (opt.batch_size <= 0) throw UsageError("--batch-size must be positive");
    std::vector<size_t> order = opt.only;
    if (order.empty()) {
        const size_t n = opt.limit ? std::min(opt.limit, data.size()) : data.size();
        order.resize(n);
        std::iota(order.begin(), order.end(), 0);
    }
    for (size_t i : order)
        if (i >= data.size())
            throw UsageError(format("image index %zu out of range: the dataset has %zu images", i, data.size()));
    if (opt.cams && opt.cam.layers.empty()) throw UsageError("run_pass: CAMs need a resolved layer");
    const auto t0 = std::chrono::steady_clock::now();
    PassOutput out;
    out.n = order.size();
    const size_t bs = static_cast<size_t>(opt.batch_size);
    const size_t nb = (order.size() + bs - 1) / bs;
    auto slice = [&](size_t b) {
        return std::vector<size_t>(order.begin() + b * bs, order.begin() + std::min(order.size(), (b + 1) * bs));
    };
    Progress own(opt.label, order.size(), opt.progress && !opt.bar);
    Progress& bar = opt.bar ? *opt.bar : own;
    // On a GPU the next batch is decoded on the CPU while the current one runs. On the CPU the
    // model's threads already take every core: a decoder beside them only oversubscribes the cores
    // and stalls LibTorch's threads at their barriers (measured, resnet56 on 2 cores: the pass cost
    // 2.0-2.3 s more than the engine alone over the same 4,000 images with the overlap, 0.5-0.7 s
    // without), so the batch is decoded first, on every core, then run.
    const bool overlap = model.info().device != "cpu";
    std::future<HostBatch> next;
    if (nb && overlap) next = std::async(std::launch::async, load, std::cref(data), std::cref(spec), slice(0));
    for (size_t b = 0; b < nb; ++b) {
        HostBatch hb = overlap ? next.get() : load(data, spec, slice(b));
        if (overlap && b + 1 < nb)
            next = std::async(std::launch::async, load, std::cref(data), std::cref(spec), slice(b + 1));
        const int n = static_cast<int>(hb.labels.size());
        CamRequest req;
        if (opt.cams) {
            req.settings() = opt.cam;
            req.perturb_batch = opt.batch_size;
            req.targets = {std::vector<int>(n, -1), hb.labels};
        }
        auto sl = slice(b);
        req.image_ids.assign(sl.begin(), sl.end());
        BatchResult r = model.run(hb.x.data(), n, spec, opt.cams ? &req : nullptr);
        // Model::run checked this batch's rows; the class count must also be the one checked before
        // the pass, on every batch (a model's output may depend on its batch).
        if (static_cast<size_t>(r.num_classes) != data.num_classes())
            throw Error(format("%s: the model output %d classes for the batch of images %zu..%zu, but the dataset %s "
                               "has %zu",
                               model.info().path.c_str(), r.num_classes, sl.front(), sl.back(),
                               data.info().name.c_str(), data.num_classes()));
        if (r.logits.size() != static_cast<size_t>(n) * r.num_classes)
            throw Error(format("%s: %zu logits for a batch of %d images of %d classes", model.info().path.c_str(),
                               r.logits.size(), n, r.num_classes));
        out.num_classes = r.num_classes;
        out.logits.insert(out.logits.end(), r.logits.begin(), r.logits.end());
        if (opt.cams) {
            out.fh = r.fh;
            out.fw = r.fw;
            const size_t m = static_cast<size_t>(n) * r.fh * r.fw;
            out.cam_pred.insert(out.cam_pred.end(), r.cams.begin(), r.cams.begin() + m);
            out.cam_true.insert(out.cam_true.end(), r.cams.begin() + m, r.cams.begin() + 2 * m);
        }
        for (size_t i = 0; i < sl.size(); ++i) out.indices.push_back(static_cast<int>(sl[i]));
        out.labels.insert(out.labels.end(), hb.labels.begin(), hb.labels.end());
        out.coarse.insert(out.coarse.end(), hb.coarse.begin(), hb.coarse.end());
        bar.advance(n);
    }
    if (!opt.bar) bar.finish();
    out.probs = metrics::softmax_rows(out.logits.data(), out.n, out.num_classes);
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

}  // namespace camscope

#include "camscope/pipeline/cams.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "camscope/image/cam_view.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/progress.hpp"

namespace camscope {

CamImages dataset_images(const Dataset& ds, std::vector<std::size_t> indices) {
    for (std::size_t i : indices)
        if (i >= ds.size())
            throw UsageError("image index " + std::to_string(i) + " out of range: the dataset has " +
                             std::to_string(ds.size()) + " images");
    CamImages im;
    im.count = indices.size();
    im.ids.assign(indices.begin(), indices.end());
    im.get = [&ds, idx = std::move(indices)](std::size_t i) { return ds.get(idx[i]); };
    return im;
}

CamImages prepared_input(const float* x, std::size_t n) {
    CamImages im;
    im.count = n;
    im.input = x;
    return im;
}

namespace {

/// The job's checks, before any image is read.
void check_job(const CamImages& images, const CamJob& job) {
    check_cam_settings(job.cam, !job.contrast.empty());
    if (job.batch_size < 1) throw UsageError("batch size must be at least 1, got " + std::to_string(job.batch_size));
    if (job.targets.empty()) throw UsageError("CAM job without a target (pred, true or a class)");
    if (!images.get && !images.input && images.count > 0) throw UsageError("CAM job without images");
    if (!images.ids.empty() && images.ids.size() != images.count)
        throw UsageError("CAM job: " + std::to_string(images.ids.size()) + " image ids for " +
                         std::to_string(images.count) + " images");
    const auto check_length = [&](std::size_t size, const std::string& what) {
        if (size != 1 && size != images.count)
            throw UsageError(what + ": " + std::to_string(size) + " entries for " + std::to_string(images.count) +
                             " images (expected 1 or one per image)");
    };
    for (std::size_t s = 0; s < job.targets.size(); ++s) {
        check_length(job.targets[s].size(), "targets");
        if (!images.get)
            for (const auto& r : job.targets[s])
                if (r.kind == ClassRef::True)
                    throw UsageError("targets: 'true' (the label) needs dataset images; the input has no labels");
    }
    if (!job.contrast.empty()) check_length(job.contrast.size(), "contrast");
    for (const auto& row : job.contrast)
        for (const auto& r : row) {
            if (r.kind == ClassRef::Pred)
                throw UsageError("contrast: 'pred' names no comparison class (the prediction is the usual target)");
            if (r.kind == ClassRef::True && !images.get)
                throw UsageError("contrast: 'true' (the label) needs dataset images; the input has no labels");
        }
}

/// The class a reference names for an image with `label` (named `id` in errors): -1 for Pred (the
/// engine's "the prediction").
int class_of(const ClassRef& r, int label, long long id) {
    switch (r.kind) {
        case ClassRef::Pred: return -1;
        case ClassRef::True:
            if (label < 0) throw Error("image " + std::to_string(id) + " has no label for 'true'");
            return label;
        case ClassRef::Index: break;
    }
    return r.index;
}

/// The batch's contrast lists as the engine takes them (CamRequest::contrast): none; the one list
/// for every image as it is (the engine applies it to each) unless it names the label; else a list
/// per image of the batch (images start … start+n-1 of the job), the labels filled in.
std::vector<std::vector<int>> contrast_rows(const std::vector<std::vector<ClassRef>>& contrast, std::size_t start,
                                            const std::vector<int>& labels, const std::vector<long long>& ids) {
    std::vector<std::vector<int>> rows;
    const auto names_label = [](const std::vector<ClassRef>& refs) {
        return std::any_of(refs.begin(), refs.end(), [](const ClassRef& r) { return r.kind == ClassRef::True; });
    };
    if (contrast.size() == 1 && !names_label(contrast[0])) {
        rows.emplace_back();
        for (const auto& r : contrast[0]) rows.back().push_back(r.index);
    } else if (!contrast.empty()) {
        for (std::size_t i = 0; i < labels.size(); ++i) {
            rows.emplace_back();
            for (const auto& r : contrast.size() == 1 ? contrast[0] : contrast[start + i])
                rows.back().push_back(class_of(r, labels[i], ids[i]));
        }
    }
    return rows;
}

}  // namespace

CamJobSummary run_cam_job(Model& m, const CamImages& images, const InputSpec& s, const CamJob& job,
                          const std::function<void(CamBatch&)>& on_batch) {
    check_job(images, job);
    CamJobSummary summary;
    summary.images = images.count;
    if (images.count == 0) {
        summary.num_classes = m.num_classes(s);  // an empty job: an empty result, N×K with N = 0
        return summary;
    }
    CamRequest req;
    req.settings() = job.cam;
    req.perturb_batch = job.batch_size;
    req.also_raw = job.raw;  // one run gives the scaled maps (drawn) and the raw ones
    req.on_progress = job.on_forwards;
    const std::size_t per = static_cast<std::size_t>(s.channels) * s.height * s.width;
    std::vector<float> x;
    std::unique_ptr<Progress> bar;
    if (job.progress) bar = std::make_unique<Progress>(job.cam.method + " CAMs", images.count);
    for (std::size_t start = 0; start < images.count; start += static_cast<std::size_t>(job.batch_size)) {
        const int n = static_cast<int>(std::min<std::size_t>(job.batch_size, images.count - start));
        CamBatch b;
        b.start = start;
        b.n = n;
        b.slots = static_cast<int>(job.targets.size());
        b.labels.assign(n, -1);
        req.image_ids.clear();
        for (int i = 0; i < n; ++i)
            req.image_ids.push_back(images.ids.empty() ? static_cast<long long>(start + i) : images.ids[start + i]);
        const float* input = nullptr;
        if (images.get) {
            x.resize(per * n);
            for (int i = 0; i < n; ++i) {
                b.samples.push_back(images.get(start + i));
                b.labels[i] = b.samples.back().label;
                to_input(b.samples.back().image, s, x.data() + i * per);
            }
            input = x.data();
        } else {
            input = images.input + per * start;
        }
        req.targets.assign(job.targets.size(), std::vector<int>(n));
        for (std::size_t t = 0; t < job.targets.size(); ++t) {
            const auto& slot = job.targets[t];
            for (int i = 0; i < n; ++i)
                req.targets[t][i] = class_of(slot.size() == 1 ? slot[0] : slot[start + i], b.labels[i], req.image_ids[i]);
        }
        req.contrast = contrast_rows(job.contrast, start, b.labels, req.image_ids);
        BatchResult r = m.run(input, n, s, &req);
        b.num_classes = summary.num_classes = r.num_classes;
        b.logits = std::move(r.logits);
        b.probs = metrics::softmax_rows(b.logits.data(), n, r.num_classes);
        b.preds = metrics::argmax_rows(b.probs.data(), n, r.num_classes);
        b.targets = req.targets;
        for (auto& slot : b.targets)
            for (int i = 0; i < n; ++i)
                if (slot[i] < 0) slot[i] = b.preds[i];
        b.fh = r.fh;
        b.fw = r.fw;
        b.height = s.height;
        b.width = s.width;
        const int count = r.slots * n;
        const std::size_t fhw = static_cast<std::size_t>(r.fh) * r.fw;
        b.at_input = cams_at_input_size(r.cams.data(), count, r.fh, r.fw, s.height, s.width);
        if (job.raw) b.raw_at_input = upsample_cams(r.raw_cams.data(), count, r.fh, r.fw, s.height, s.width);
        b.degenerate.resize(count);
        for (int k = 0; k < count; ++k) b.degenerate[k] = degenerate_cam(r.cams.data() + k * fhw, fhw) ? 1 : 0;
        b.maps = std::move(r.cams);
        on_batch(b);
        if (bar) bar->advance(static_cast<std::size_t>(n));
    }
    return summary;
}

CamMaps cam_maps(Model& m, const CamImages& images, const InputSpec& s, const CamJob& job) {
    CamMaps out;
    out.n = images.count;
    out.slots = static_cast<int>(job.targets.size());
    out.height = s.height;
    out.width = s.width;
    const std::size_t hw = static_cast<std::size_t>(s.height) * s.width;
    out.maps.resize(out.slots * out.n * hw);
    out.degenerate.resize(out.slots * out.n);
    out.labels.reserve(out.n);
    out.preds.reserve(out.n);
    out.num_classes = run_cam_job(m, images, s, job, [&](CamBatch& b) {
        out.logits.insert(out.logits.end(), b.logits.begin(), b.logits.end());
        out.probs.insert(out.probs.end(), b.probs.begin(), b.probs.end());
        out.preds.insert(out.preds.end(), b.preds.begin(), b.preds.end());
        out.labels.insert(out.labels.end(), b.labels.begin(), b.labels.end());
        const auto& maps = job.raw ? b.raw_at_input : b.at_input;
        for (int t = 0; t < b.slots; ++t) {
            const auto from = maps.begin() + static_cast<long>(t * b.n * hw);
            std::copy(from, from + static_cast<long>(b.n * hw), out.maps.begin() + static_cast<long>((t * out.n + b.start) * hw));
            for (int i = 0; i < b.n; ++i) out.degenerate[t * out.n + b.start + i] = b.degenerate[t * b.n + i];
        }
    }).num_classes;
    return out;
}

}  // namespace camscope

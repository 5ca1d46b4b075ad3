// camscope._camscope: _Model, the Python Model's C++ side: loading (a file, or bytes from
// Model.from_torch), its input spec (the library's rule, worded with Model's arguments), layers,
// predictions and CAMs of arrays and of datasets.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "camscope/data/class_ref.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/pipeline/analyze.hpp"
#include "camscope/pipeline/cams.hpp"
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/progress.hpp"
#include "common.hpp"

namespace camscope::bindings {

namespace {

SpecOverrides overrides_from(const py::object& size, const py::object& mean, const py::object& std_,
                             const std::string& norm) {
    SpecOverrides o;
    if (!size.is_none()) {
        auto hw = size.cast<std::pair<int, int>>();
        if (hw.first <= 0 || hw.second <= 0)
            throw UsageError("input_size must be two positive numbers (height, width), got (" +
                             std::to_string(hw.first) + ", " + std::to_string(hw.second) + ")");
        o.height = hw.first;
        o.width = hw.second;
    }
    if (!mean.is_none()) o.mean = mean.cast<std::vector<float>>();
    if (!std_.is_none()) o.std = std_.cast<std::vector<float>>();
    o.preset = norm;
    return o;
}

/// Model(threads=...): None (kAutoThreads, common.hpp), 0 (PyTorch's current setting) or a count.
int checked_threads(const py::object& threads) {
    if (threads.is_none()) return kAutoThreads;
    const int t = threads.cast<int>();
    if (t < 0)
        throw UsageError("threads must be None (automatic: 1 thread for calls on fewer than " +
                         std::to_string(kFewImages) + " images, PyTorch's setting otherwise), 0 (PyTorch's current "
                         "setting, torch.get_num_threads()) or a positive count, got " + std::to_string(t));
    return t;
}

py::dict model_info(const PyModel& pm) {
    const auto& i = pm.m->info();
    py::dict r;
    r["path"] = i.path;
    r["kind"] = i.kind;
    r["class_names"] = i.class_names;
    r["input"] = i.input ? py::object(spec_to(*i.input)) : py::object(py::none());
    r["train_mode_baked"] = i.train_mode_baked;
    r["logits"] = i.logits;
    r["metadata_json"] = i.metadata_json;
    r["threads"] = pm.threads > 0 ? py::object(py::int_(pm.threads))
                   : pm.threads == kAutoThreads ? py::object(py::none()) : py::object(py::int_(0));
    return r;
}

/// The model input of a call: a dataset's (resolve_input_spec with its info) or the arrays' shape.
/// A model given as bytes is a module from Python (Model.from_torch): no dataset preset for it.
InputSpec resolve_spec(PyModel& pm, const PyDataset* ds, int channels, int height, int width, const SpecOverrides& ov) {
    DatasetInfo di;
    if (ds) {
        di = ds->ds->info();
    } else {
        di.preset.channels = channels;
        di.preset.height = height;
        di.preset.width = width;
    }
    return worded([&] { return resolve_input_spec(pm.m->info(), di, ov, /*live_module=*/!pm.bytes.empty()); });
}

/// The batch as model input: float32 N×C×H×W taken as it is (already normalised; zero-copy when
/// C-contiguous float32), or uint8 N×H×W[×C] converted per image by to_input (resize, scale,
/// normalise, exactly as the CLI feeds dataset images).
struct Batch {
    py::array keep;        // the caller's float buffer, when used in place
    std::vector<float> owned;
    const float* data = nullptr;
    int n = 0;
};

Batch batch_from(const py::array& a, const InputSpec& s) {
    Batch b;
    if (a.dtype().kind() == 'f') {
        if (a.ndim() != 4)
            throw UsageError("images: a float array must be N×C×H×W (already normalised), got " + std::to_string(a.ndim()) +
                             " dimensions");
        if (a.shape(1) != s.channels || a.shape(2) != s.height || a.shape(3) != s.width)
            throw UsageError("images: float input of shape N×" + std::to_string(a.shape(1)) + "×" + std::to_string(a.shape(2)) +
                             "×" + std::to_string(a.shape(3)) + " but the model input is N×" + std::to_string(s.channels) +
                             "×" + std::to_string(s.height) + "×" + std::to_string(s.width));
        b.keep = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);  // no copy if already so
        b.data = static_cast<const float*>(b.keep.data());
        b.n = static_cast<int>(a.shape(0));
        return b;
    }
    py::array u = uint8_images(a, "images", /*allow_empty=*/true);
    b.n = static_cast<int>(u.shape(0));
    const size_t per = static_cast<size_t>(s.channels) * s.height * s.width;
    b.owned.resize(per * b.n);
    for (int i = 0; i < b.n; ++i) to_input(image_from(u, i, "images"), s, b.owned.data() + i * per);
    b.data = b.owned.data();
    return b;
}

/// The library's CAM job (pipeline/cams.hpp) from the bindings' arguments: one target slot with a
/// class per image (-1 = the prediction, -2 = the label), the contrast as one list or one per image
/// (classes resolved in Python).
CamJob job_from(CamSettings cam, const std::vector<int>& targets, const std::vector<std::vector<int>>& contrast, bool raw,
                int batch_size) {
    CamJob job;
    job.cam = std::move(cam);
    job.targets.emplace_back();
    for (int t : targets)
        job.targets[0].push_back(t == -1 ? ClassRef{ClassRef::Pred, -1} : t == -2 ? ClassRef{ClassRef::True, -1}
                                                                                  : ClassRef{ClassRef::Index, t});
    for (const auto& row : contrast) {
        job.contrast.emplace_back();
        for (int c : row) job.contrast.back().push_back({ClassRef::Index, c});
    }
    job.raw = raw;
    job.batch_size = batch_size;
    job.progress = true;  // "<method> CAMs", drawn by Python (and where Ctrl-C is seen)
    return job;
}

/// Model(...) / Model.from_torch(...): `load(o)` with the keywords' engine options `o` (threads:
/// the checked Model(threads=) value; 0 = all cores for the engine, the call count is PyTorch's or
/// call_threads'), its errors worded with the package's arguments. `name`: the path, or the name
/// of a model given as bytes (the caller keeps those in PyModel::bytes).
template <class F>
std::shared_ptr<PyModel> loaded(const std::string& name, EngineOptions o, const py::object& threads, F&& load) {
    const int t = checked_threads(threads);
    o.threads = std::max(t, 0);
    auto m = worded([&] { return long_call(false, [&] { return std::make_shared<Model>(load(o)); }); });
    return std::make_shared<PyModel>(PyModel{m, name, "", t});
}

}  // namespace

void bind_model(py::module_& mod) {
    py::class_<PyModel, std::shared_ptr<PyModel>>(mod, "_Model")
        .def_static(
            "load",
            [](const std::string& path, const std::string& device, const py::object& threads, bool quiet,
               const std::string& layout, const std::string& grid, const std::string& logits) {
                return loaded(path, {0, device, quiet, layout, grid, logits}, threads,
                              [&](const EngineOptions& o) { return Model::load(path, o); });
            },
            py::arg("path"), py::arg("device") = "cpu", py::arg("threads") = py::none(), py::arg("quiet") = true,
            py::arg("layout") = "", py::arg("grid") = "", py::arg("logits") = "")
        .def_static(
            "load_bytes",
            [](const py::bytes& b, const std::string& name, const std::string& device, const py::object& threads,
               bool quiet, const std::string& layout, const std::string& grid, const std::string& logits) {
                std::string bytes = b;
                auto pm = loaded(name, {0, device, quiet, layout, grid, logits}, threads,
                                 [&](const EngineOptions& o) { return Model::load_bytes(bytes, name, o); });
                pm->bytes = std::move(bytes);  // for the run identity (identify_model_bytes)
                return pm;
            },
            py::arg("data"), py::arg("name"), py::arg("device") = "cpu", py::arg("threads") = py::none(),
            py::arg("quiet") = true, py::arg("layout") = "", py::arg("grid") = "", py::arg("logits") = "")
        .def("info", &model_info)
        .def(
            "spec",
            [](PyModel& pm, std::shared_ptr<PyDataset> ds, int c, int h, int w, const py::object& size,
               const py::object& mean, const py::object& std_, const std::string& norm) {
                return spec_to(resolve_spec(pm, ds.get(), c, h, w, overrides_from(size, mean, std_, norm)));
            },
            py::arg("data"), py::arg("channels") = 0, py::arg("height") = 0, py::arg("width") = 0,
            py::arg("input_size") = py::none(), py::arg("mean") = py::none(), py::arg("std") = py::none(),
            py::arg("norm") = "")
        .def("layers",
             [](PyModel& pm, const py::dict& spec) {
                 const InputSpec s = spec_from(spec);
                 // (path, type, shape, layout, evidence, automatic): the layout a CAM at the layer reads
                 // (Model's layout=/grid= applied) and why; automatic: the layer cam() picks by itself.
                 auto ls = worded([&] { return model_call(pm, false, [&] { return pm.m->layers(s); }, 1); });
                 std::string chosen;
                 try {
                     chosen = model_call(pm, false, [&] { return pm.m->resolve_layer("", s); }, 1);
                 } catch (const Error&) {  // no automatic choice: no row is marked (resolve_layer says why)
                 }
                 py::list out;
                 for (const auto& l : ls)
                     out.append(py::make_tuple(l.path, l.type, l.shape, describe(l.forced),
                                               with_python_arguments(l.forced.evidence), l.path == chosen));
                 return out;
             })
        .def("num_classes",  // the model's output count for spec-sized input (one probe forward)
             [](PyModel& pm, const py::dict& spec) {
                 const InputSpec s = spec_from(spec);
                 return worded([&] { return model_call(pm, false, [&] { return pm.m->num_classes(s); }, 1); });
             })
        .def("resolve_layer",
             [](PyModel& pm, const std::string& name, const py::dict& spec) {
                 const InputSpec s = spec_from(spec);
                 return worded([&] { return model_call(pm, false, [&] { return pm.m->resolve_layer(name, s); }, 1); });
             })
        .def("fit",  // the dataset as the model sees it (fit_to_model), as a new _Dataset
             [](PyModel& pm, const PyDataset& d, const py::dict& spec, bool quiet) {
                 const InputSpec s = spec_from(spec);
                 // fit_to_model takes ownership; datasets are shared: a non-owning view that keeps d alive.
                 struct View : Dataset {
                     std::shared_ptr<Dataset> base;
                     size_t size() const override { return base->size(); }
                     Sample get(size_t i) const override { return base->get(i); }
                     const DatasetInfo& info() const override { return base->info(); }
                     void set_input_size(int h, int w) override { base->set_input_size(h, w); }
                 };
                 auto v = std::make_unique<View>();
                 v->base = d.ds;
                 auto fitted = model_call(pm, false, [&] { return fit_to_model(*pm.m, std::move(v), s, quiet); });
                 return std::make_shared<PyDataset>(
                     PyDataset{std::shared_ptr<Dataset>(std::move(fitted)), d.path, d.split, d.format});
             })
        .def(
            "predict_arrays",
            [](PyModel& pm, const py::array& images, const py::dict& spec, int batch_size, bool progress) {
                const InputSpec s = spec_from(spec);
                Batch b = batch_from(images, s);
                int k = 0;
                auto logits = worded([&] { return model_call(pm, progress, [&] {
                    std::vector<float> all;
                    if (b.n == 0) k = pm.m->num_classes(s);  // an empty batch: an empty result, 0×K
                    Progress bar("predict", static_cast<size_t>(b.n));
                    const size_t per = static_cast<size_t>(s.channels) * s.height * s.width;
                    for (int start = 0; start < b.n; start += batch_size) {
                        const int n = std::min(batch_size, b.n - start);
                        auto r = pm.m->run(b.data + per * start, n, s);
                        k = r.num_classes;
                        all.insert(all.end(), r.logits.begin(), r.logits.end());
                        bar.advance(static_cast<size_t>(n));
                    }
                    return all;
                }, static_cast<size_t>(b.n)); });
                auto probs = metrics::softmax_rows(logits.data(), static_cast<size_t>(b.n), k);
                return py::make_tuple(to_numpy(std::move(logits), {b.n, k}), to_numpy(std::move(probs), {b.n, k}));
            },
            py::arg("images"), py::arg("spec"), py::arg("batch_size") = 64, py::arg("progress") = true)
        .def(
            "predict_dataset",
            [](PyModel& pm, const PyDataset& d, const py::dict& spec, int batch_size, size_t limit,
               const std::vector<size_t>& only, bool progress) {
                const InputSpec s = spec_from(spec);
                PassOptions po;
                po.batch_size = batch_size;
                po.limit = limit;
                po.only = only;
                po.progress = true;
                size_t count = only.empty() ? d.ds->size() : only.size();
                if (limit > 0) count = std::min(count, limit);
                auto r = worded([&] { return model_call(pm, progress, [&] { return run_pass(*pm.m, *d.ds, s, po); }, count); });
                const auto n = static_cast<py::ssize_t>(r.n);
                return py::make_tuple(to_numpy(std::move(r.logits), {n, r.num_classes}),
                                      to_numpy(std::move(r.probs), {n, r.num_classes}), to_numpy(std::move(r.indices), {n}),
                                      to_numpy(std::move(r.labels), {n}));
            },
            py::arg("data"), py::arg("spec"), py::arg("batch_size") = 64, py::arg("limit") = 0,
            py::arg("only") = std::vector<size_t>{}, py::arg("progress") = true)
        .def(
            "cam_arrays",
            [](PyModel& pm, const py::array& images, const py::dict& spec, const std::vector<int>& targets,
               const std::string& method, const std::vector<std::string>& layers, bool eigen_smooth, bool aug_smooth,
               int max_channels, double alpha, const std::vector<std::vector<int>>& contrast, bool raw, int batch_size,
               bool progress) {
                const InputSpec s = spec_from(spec);
                Batch b = batch_from(images, s);
                if (targets.size() != static_cast<size_t>(b.n))
                    throw UsageError("targets: " + std::to_string(targets.size()) + " targets for " + std::to_string(b.n) +
                                     " images");
                const CamJob job = job_from(cam_settings(method, layers, eigen_smooth, aug_smooth, max_channels, alpha),
                                            targets, contrast, raw, batch_size);
                auto r = worded([&] {
                    return model_call(pm, progress, [&] {
                        return cam_maps(*pm.m, prepared_input(b.data, static_cast<size_t>(b.n)), s, job);
                    }, static_cast<size_t>(b.n));
                });
                return py::make_tuple(to_numpy(std::move(r.logits), {b.n, r.num_classes}),
                                      to_numpy(std::move(r.maps), {b.n, s.height, s.width}));
            },
            py::arg("images"), py::arg("spec"), py::arg("targets"), py::arg("method"), py::arg("layers"),
            py::arg("eigen_smooth"), py::arg("aug_smooth"), py::arg("max_channels"), py::arg("alpha"), py::arg("contrast"),
            py::arg("raw"), py::arg("batch_size"), py::arg("progress"))
        .def(
            "cam_dataset",  // as `camscope cam`: dataset images through to_input; target -1 = pred, -2 = the label
            [](PyModel& pm, const PyDataset& d, const py::dict& spec, const std::vector<size_t>& indices,
               const std::vector<int>& targets, const std::string& method, const std::vector<std::string>& layers,
               bool eigen_smooth, bool aug_smooth, int max_channels, double alpha,
               const std::vector<std::vector<int>>& contrast, bool raw, int batch_size, bool progress) {
                const InputSpec s = spec_from(spec);
                if (targets.size() != indices.size())
                    throw UsageError("targets: " + std::to_string(targets.size()) + " targets for " +
                                     std::to_string(indices.size()) + " images");
                const CamJob job = job_from(cam_settings(method, layers, eigen_smooth, aug_smooth, max_channels, alpha),
                                            targets, contrast, raw, batch_size);
                const int n = static_cast<int>(indices.size());
                auto r = worded([&] {
                    return model_call(pm, progress, [&] { return cam_maps(*pm.m, dataset_images(*d.ds, indices), s, job); },
                                      indices.size());
                });
                return py::make_tuple(to_numpy(std::move(r.logits), {n, r.num_classes}),
                                      to_numpy(std::move(r.probs), {n, r.num_classes}),
                                      to_numpy(std::move(r.maps), {n, s.height, s.width}), to_numpy(std::move(r.labels), {n}));
            },
            py::arg("data"), py::arg("spec"), py::arg("indices"), py::arg("targets"), py::arg("method"), py::arg("layers"),
            py::arg("eigen_smooth"), py::arg("aug_smooth"), py::arg("max_channels"), py::arg("alpha"), py::arg("contrast"),
            py::arg("raw"), py::arg("batch_size"), py::arg("progress"));
}

}  // namespace camscope::bindings

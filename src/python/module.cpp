// camscope._camscope: the pybind11 bindings behind the Python package (python/camscope/). Thin:
// every computation is a call into the library (engine.hpp facade, pipeline/, report/, serve/);
// this file converts arguments and results, releases the GIL around long calls, and routes the
// library's progress bars to Python (where Ctrl-C is checked: see ProgressGuard).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "camscope/data/class_ref.hpp"
#include "camscope/data/dataset.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/engine/threads.hpp"
#include "camscope/image/cam_view.hpp"
#include "camscope/image/image.hpp"
#include "camscope/pipeline/analyze.hpp"
#include "camscope/pipeline/cams.hpp"
#include "camscope/pipeline/measure.hpp"
#include "camscope/pipeline/pipeline.hpp"
#include "camscope/report/analysis.hpp"
#include "camscope/report/explorer.hpp"
#include "camscope/report/identity.hpp"
#include "camscope/report/metrics.hpp"
#include "camscope/report/figures.hpp"
#include "camscope/serve/server.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/strings.hpp"

namespace py = pybind11;
using namespace camscope;

namespace {

// ------------------------------------------------------------------ progress and Ctrl-C

/// Thrown from the progress sink when Python has a pending KeyboardInterrupt. Not a
/// std::exception, so no `catch (const std::exception&)` in the library turns it into an Error;
/// the library's RAII (StagedDir, atomic writes) removes what was half-made while it unwinds.
struct Interrupted {};

std::mutex g_call_mu;
std::thread::id g_owner;      // the Python thread of the call in progress
bool g_show = false;          // draw its bars
py::object* g_draw = nullptr;  // camscope._progress.event(label, done, total, final); leaked on purpose

/// Set for the duration of one long call, made with the GIL held: the library's bars go to
/// Python from this thread only (others' advances are seen in the counts of the next one).
struct ProgressGuard {
    ProgressGuard(bool show) {
        std::lock_guard lock(g_call_mu);
        g_owner = std::this_thread::get_id();
        g_show = show;
    }
    ~ProgressGuard() {
        std::lock_guard lock(g_call_mu);
        g_owner = std::thread::id();
    }
};

void progress_sink(const std::string& label, std::size_t done, std::size_t total, bool final) {
    bool show = false;
    {
        std::lock_guard lock(g_call_mu);
        if (std::this_thread::get_id() != g_owner) return;
        show = g_show;
    }
    py::gil_scoped_acquire gil;
    if (show && g_draw) {
        try {
            (*g_draw)(label, done, total, final);
        } catch (py::error_already_set& e) {
            // Ctrl-C while Python draws arrives here as KeyboardInterrupt; any other drawing problem
            // must not stop the work.
            if (e.matches(PyExc_KeyboardInterrupt) && !final) throw Interrupted{};
        }
    }
    if (!final && PyErr_CheckSignals() != 0) {
        PyErr_Clear();  // re-raised as KeyboardInterrupt by the translator
        throw Interrupted{};
    }
}

/// Runs f with the GIL released and the progress of this thread shown (or not).
template <class F>
auto long_call(bool show, F&& f) {
    ProgressGuard guard(show);
    py::gil_scoped_release release;
    return f();
}

// ------------------------------------------------------------------ conversions

InputSpec spec_from(const py::dict& d) {
    InputSpec s;
    s.channels = d["channels"].cast<int>();
    s.height = d["height"].cast<int>();
    s.width = d["width"].cast<int>();
    s.norm.mean = d["mean"].cast<std::vector<float>>();
    s.norm.std = d["std"].cast<std::vector<float>>();
    if (d.contains("normalisation")) s.norm_source = d["normalisation"].cast<std::string>();
    return s;
}

py::dict spec_to(const InputSpec& s) {
    py::dict d;
    d["channels"] = s.channels;
    d["height"] = s.height;
    d["width"] = s.width;
    d["mean"] = s.norm.mean;
    d["std"] = s.norm.std;
    d["normalisation"] = s.norm_source;  // where mean/std came from (data/input_spec.hpp)
    return d;
}

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

template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
    auto* heap = new std::vector<T>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(shape, heap->data(), owner);
}

py::array_t<std::uint8_t> image_to_numpy(const Image& img) {
    std::vector<std::uint8_t> px = img.pixels;
    return to_numpy(std::move(px), {img.height, img.width, img.channels});
}

// ------------------------------------------------------------------ datasets

/// A dataset held in memory: uint8 images N×H×W×C (copied once; Dataset::get is called from the
/// pass's decoding threads, which must not touch Python objects), labels, class names.
class ArrayDataset : public Dataset {
public:
    ArrayDataset(std::vector<Image> images, std::vector<int> labels, std::vector<int> coarse, DatasetInfo info)
        : images_(std::move(images)), labels_(std::move(labels)), coarse_(std::move(coarse)), info_(std::move(info)) {}
    size_t size() const override { return images_.size(); }
    Sample get(size_t i) const override {
        if (i >= images_.size()) throw Error(info_.name + ": image index " + std::to_string(i) + " out of range");
        Sample s;
        s.image = images_[i];
        s.label = labels_[i];
        s.coarse = coarse_.empty() ? -1 : coarse_[i];
        return s;
    }
    const DatasetInfo& info() const override { return info_; }

private:
    std::vector<Image> images_;
    std::vector<int> labels_, coarse_;
    DatasetInfo info_;
};

/// The Python Dataset's C++ side. `path` is what reports and identities name.
struct PyDataset {
    std::shared_ptr<Dataset> ds;
    std::string path;
    std::string split = "test", format;  // how it was opened (the store manifest's data_flags)
};

Image image_from(const py::array& a, size_t i, const std::string& what) {
    // a: uint8, N×H×W or N×H×W×C (C = 1 or 3), C-contiguous (checked by the caller).
    Image img;
    img.height = static_cast<int>(a.shape(1));
    img.width = static_cast<int>(a.shape(2));
    img.channels = a.ndim() == 4 ? static_cast<int>(a.shape(3)) : 1;
    const size_t per = static_cast<size_t>(img.height) * img.width * img.channels;
    const auto* p = static_cast<const std::uint8_t*>(a.data()) + i * per;
    img.pixels.assign(p, p + per);
    return img;
}

/// `obj` as C-contiguous uint8 images N×H×W×C (C = 1 or 3) or N×H×W; N = 0 only `if allow_empty`
/// (a batch: an empty result), never H or W = 0.
py::array uint8_images(const py::handle& obj, const std::string& what, bool allow_empty = false) {
    py::array a = py::array::ensure(obj);
    if (!a) throw UsageError(what + ": expected a NumPy array");
    if (a.dtype().kind() != 'u' || a.itemsize() != 1)
        throw UsageError(what + ": expected uint8 images N×H×W×C (C = 1 or 3) or N×H×W, got dtype " +
                         py::str(a.dtype()).cast<std::string>());
    if (!(a.ndim() == 3 || (a.ndim() == 4 && (a.shape(3) == 1 || a.shape(3) == 3))))
        throw UsageError(what + ": expected uint8 images N×H×W×C (C = 1 or 3) or N×H×W, got shape " +
                         py::str(py::tuple(py::cast(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()))))
                             .cast<std::string>());
    if ((a.shape(0) == 0 && !allow_empty) || a.shape(1) == 0 || a.shape(2) == 0)
        throw UsageError(what + ": no images (an empty array)");
    return py::array::ensure(a, py::array::c_style);
}

/// `applied`: the (mean, std) the images' source had normalised them with (a torchvision transform's
/// Normalize; the uint8 images were recovered from its tensors), and `applied_by` what applied it.
PyDataset dataset_from_arrays(const py::object& images, const std::vector<int>& labels,
                              const std::vector<std::string>& class_names, const std::optional<std::vector<int>>& coarse,
                              const std::vector<std::string>& coarse_names, const std::string& name,
                              const std::optional<std::pair<std::vector<float>, std::vector<float>>>& applied,
                              const std::string& applied_by) {
    py::array a = uint8_images(images, "images");
    const size_t n = static_cast<size_t>(a.shape(0));
    if (labels.size() != n)
        throw UsageError("labels: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) + " images");
    if (class_names.empty()) throw UsageError("class_names: at least one class name is needed");
    for (size_t i = 0; i < n; ++i)
        if (labels[i] < 0 || static_cast<size_t>(labels[i]) >= class_names.size())
            throw UsageError("labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]) + " is not a class index (0.." +
                             std::to_string(class_names.size() - 1) + ")");
    DatasetInfo info;
    info.format = "arrays";
    info.name = name;
    info.split = "test";
    info.class_names = class_names;
    info.names_source = "class_names";
    info.preset.channels = a.ndim() == 4 ? static_cast<int>(a.shape(3)) : 1;
    info.preset.height = static_cast<int>(a.shape(1));
    info.preset.width = static_cast<int>(a.shape(2));
    if (applied) {
        info.applied_norm = Normalization{applied->first, applied->second};
        info.applied_by = applied_by.empty() ? "the images' source" : applied_by;
    }
    std::vector<int> co;
    if (coarse) {
        if (coarse->size() != n)
            throw UsageError("coarse: " + std::to_string(coarse->size()) + " labels for " + std::to_string(n) + " images");
        co = *coarse;
        int kc = 0;
        for (int c : co) kc = std::max(kc, c + 1);
        info.coarse_names = coarse_names;
        if (info.coarse_names.empty())
            for (int c = 0; c < kc; ++c) info.coarse_names.push_back("superclass_" + std::to_string(c));
        // The superclass of each class, from its images (a class in two superclasses is refused).
        info.fine_to_coarse.assign(class_names.size(), -1);
        for (size_t i = 0; i < n; ++i) {
            if (co[i] < 0 || static_cast<size_t>(co[i]) >= info.coarse_names.size())
                throw UsageError("coarse[" + std::to_string(i) + "] = " + std::to_string(co[i]) + " is not a superclass index");
            int& f = info.fine_to_coarse[static_cast<size_t>(labels[i])];
            if (f >= 0 && f != co[i])
                throw UsageError("coarse: class " + std::to_string(labels[i]) + " has images in superclasses " +
                                 std::to_string(f) + " and " + std::to_string(co[i]));
            f = co[i];
        }
        for (int& f : info.fine_to_coarse)
            if (f < 0) f = 0;  // a class without images: any block
    }
    std::vector<Image> imgs;
    imgs.reserve(n);
    for (size_t i = 0; i < n; ++i) imgs.push_back(image_from(a, i, "images"));
    return {std::make_shared<ArrayDataset>(std::move(imgs), labels, std::move(co), std::move(info)), name, "", ""};
}

py::dict dataset_info(const PyDataset& d) {
    const auto& i = d.ds->info();
    py::dict r;
    r["path"] = d.path;
    r["format"] = i.format;
    r["name"] = i.name;
    r["split"] = i.split;
    r["class_names"] = i.class_names;
    r["coarse_names"] = i.coarse_names;
    r["fine_to_coarse"] = i.fine_to_coarse;
    r["size"] = d.ds->size();
    return r;
}

// ------------------------------------------------------------------ models

struct PyModel {
    std::shared_ptr<Model> m;
    std::string path;   // file, or the name of a model given as bytes
    std::string bytes;  // serialized module (load_bytes), for the run identity; empty for files
    int threads = 0;    // Model(threads=N): LibTorch's thread count during this model's calls; 0 = PyTorch's
};

/// A long call on a model (see long_call): with the model's thread count for its duration only
/// (PyTorch's setting is the caller's: it is left as it was), or the caller's count.
template <class F>
auto model_call(const PyModel& pm, bool show, F&& f) {
    ScopedThreads threads(pm.threads);
    return long_call(show, std::forward<F>(f));
}

/// Model(threads=...): 0 (PyTorch's current setting) or a positive count.
int checked_threads(int threads) {
    if (threads < 0)
        throw UsageError("threads must be >= 0 (0 = PyTorch's current setting, torch.get_num_threads()), got " +
                         std::to_string(threads));
    return threads;
}

py::dict model_info(const PyModel& pm) {
    const auto& i = pm.m->info();
    py::dict r;
    r["path"] = i.path;
    r["kind"] = i.kind;
    r["class_names"] = i.class_names;
    r["input"] = i.input ? py::object(spec_to(*i.input)) : py::object(py::none());
    r["train_mode_baked"] = i.train_mode_baked;
    r["metadata_json"] = i.metadata_json;
    r["threads"] = pm.threads > 0 ? pm.threads : pm.m->threads();
    return r;
}

/// resolve_input_spec's messages name the CLI's flags; here they name Model's arguments.
std::string with_model_arguments(std::string msg) {
    static const std::pair<std::string, std::string> words[] = {
        {"--input-size HxW", "input_size=(H, W) to camscope.Model"}, {"--input-size", "input_size"},
        {"--mean/--std", "mean/std"}, {"--mean", "mean"}, {"--std", "std"}, {"--norm", "norm"}};
    for (const auto& [flag, argument] : words)
        for (size_t at; (at = msg.find(flag)) != std::string::npos;) msg.replace(at, flag.size(), argument);
    return msg;
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
    try {
        return resolve_input_spec(pm.m->info(), di, ov, /*live_module=*/!pm.bytes.empty());
    } catch (const UsageError& e) {
        throw UsageError(with_model_arguments(e.what()));
    }
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

/// The library's CamSettings from the Python keywords (one place for every binding).
CamSettings cam_settings(const std::string& method, std::vector<std::string> layers, bool eigen_smooth, bool aug_smooth,
                         int max_channels, double alpha) {
    CamSettings c;
    c.method = method;
    c.layers = std::move(layers);
    c.eigen_smooth = eigen_smooth;
    c.aug_smooth = aug_smooth;
    c.max_channels = max_channels;
    c.alpha = alpha;
    check_cam_settings(c);  // (the contrast: the CAM job)
    return c;
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

// ------------------------------------------------------------------ reports

struct PyReport {
    std::shared_ptr<PyDataset> data;  // the AnalysisInput's loader reads from it
    std::shared_ptr<PyModel> model;
    std::shared_ptr<Analysis> an;
    InputSpec spec;
    std::string summary_json;  // as summary.json would hold it (no file list)
};

// ------------------------------------------------------------------ explorer

struct PyExplorer {
    std::shared_ptr<PyModel> model;
    std::shared_ptr<PyDataset> data;
    std::unique_ptr<serve::Explorer> explorer;
    std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);
    std::thread thread;
    std::string url;
    int port = 0;
    std::mutex join_mu;  // one joiner at a time: stop() from several Python threads, the destructor
    std::atomic<bool> ended{false};  // the server thread has returned (stopped, or failed after start)

    /// Stops the server and returns once it has stopped; from any number of threads at once, any
    /// number of times (a second caller waits for the first one's join, then finds nothing to do).
    void halt() {
        stop->store(true);
        py::gil_scoped_release release;  // before join_mu: its holder may wait for the GIL otherwise
        std::lock_guard lock(join_mu);
        if (thread.joinable()) thread.join();
    }
    bool running() const { return !stop->load() && !ended.load(); }
    ~PyExplorer() {
        stop->store(true);
        std::lock_guard lock(join_mu);
        if (thread.joinable()) thread.join();
    }
};

}  // namespace

PYBIND11_MODULE(_camscope, mod) {
    mod.doc() = "camscope's C++ library (internal; use the `camscope` package)";

    static py::exception<Error> error(mod, "Error", PyExc_RuntimeError);
    // An impossible request: a camscope.Error and a ValueError (a bad argument value, as Python
    // code expects to catch it).
    static py::exception<UsageError> usage(mod, "UsageError", py::make_tuple(error, py::handle(PyExc_ValueError)));
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Interrupted&) {
            PyErr_SetNone(PyExc_KeyboardInterrupt);
        } catch (const UsageError& e) {
            usage(e.what());
        } catch (const Error& e) {
            error(e.what());
        }
    });
    Progress::set_sink(progress_sink);
    mod.def("_set_progress_callback", [](py::object f) {
        if (!g_draw) g_draw = new py::object();
        *g_draw = std::move(f);
    });
    mod.def("cam_methods", &cam_methods, "Names of the CAM methods.");
    mod.def(
        "parse_class",  // data/class_ref.hpp: a class index (as text: Python ints of any size) or name;
                        // with keywords, pred (-1) and true (-2) too, and the message lists them
        [](const std::string& text, const std::vector<std::string>& names, std::size_t count, const std::string& where,
           bool keywords) {
            if (!keywords) return parse_class(text, ClassList(names, count), where);
            const ClassRef r = parse_class_ref(text, ClassList(names, count), where);
            return r.kind == ClassRef::Pred ? -1 : r.kind == ClassRef::True ? -2 : r.index;
        },
        py::arg("text"), py::arg("names"), py::arg("count"), py::arg("where") = "", py::arg("keywords") = false);
    mod.def(
        "overlay_png",  // the CLI's overlay (cam command, galleries): image resized to the map, JET blend; PNG bytes
        [](const py::array& image, const py::array_t<float, py::array::c_style | py::array::forcecast>& cam) {
            if (cam.ndim() != 2) throw UsageError("cam: expected an H×W map");
            py::array u = uint8_images(py::array(image).reshape(std::vector<py::ssize_t>{1, image.shape(0), image.shape(1),
                                                                                           image.ndim() == 3 ? image.shape(2) : 1}),
                                       "image");
            Image img = image_from(u, 0, "image");
            const int h = static_cast<int>(cam.shape(0)), w = static_cast<int>(cam.shape(1));
            if (img.width != w || img.height != h) img = resize_bilinear(img, w, h);
            const auto png = encode_png(view_cam(img, cam.data(), h, w).image);
            return py::bytes(reinterpret_cast<const char*>(png.data()), png.size());
        },
        py::arg("image"), py::arg("cam"));

    py::class_<PyDataset, std::shared_ptr<PyDataset>>(mod, "_Dataset")
        .def_static(
            "open",
            [](const std::string& path, const std::string& split, const std::string& format, size_t limit,
               const std::optional<std::vector<std::string>>& class_names) {
                OpenOptions o;
                o.split = split;
                o.format = format;
                auto ds = open_dataset(path, o);
                if (class_names) {
                    if (class_names->size() != ds->num_classes())
                        throw UsageError("class_names: " + std::to_string(class_names->size()) + " names for the " +
                                         std::to_string(ds->num_classes()) + " classes of " + path);
                    ds = rename_classes(std::move(ds), *class_names, "class_names");
                }
                if (limit > 0) ds = first_images(std::move(ds), limit);  // 0: every image
                return std::make_shared<PyDataset>(PyDataset{std::shared_ptr<Dataset>(std::move(ds)), path, split, format});
            },
            py::arg("path"), py::arg("split") = "test", py::arg("format") = "", py::arg("limit") = 0,
            py::arg("class_names") = py::none())
        .def_static(
            "from_arrays",
            [](const py::object& images, const std::vector<int>& labels, const std::vector<std::string>& names,
               const std::optional<std::vector<int>>& coarse, const std::vector<std::string>& coarse_names,
               const std::string& name, const std::optional<std::pair<std::vector<float>, std::vector<float>>>& applied,
               const std::string& applied_by) {
                return std::make_shared<PyDataset>(
                    dataset_from_arrays(images, labels, names, coarse, coarse_names, name, applied, applied_by));
            },
            py::arg("images"), py::arg("labels"), py::arg("class_names"), py::arg("coarse") = py::none(),
            py::arg("coarse_names") = std::vector<std::string>{}, py::arg("name") = "arrays",
            py::arg("applied_norm") = py::none(), py::arg("applied_by") = "")
        .def("__len__", [](const PyDataset& d) { return d.ds->size(); })
        .def("info", &dataset_info)
        .def("get", [](const PyDataset& d, py::ssize_t i) {
            if (i < 0 || static_cast<size_t>(i) >= d.ds->size())
                throw py::index_error("image index " + std::to_string(i) + " out of range: the dataset has " +
                                      std::to_string(d.ds->size()) + " images");
            Sample s;
            {
                py::gil_scoped_release release;
                s = d.ds->get(static_cast<size_t>(i));
            }
            return py::make_tuple(image_to_numpy(s.image), s.label);
        });

    py::class_<PyModel, std::shared_ptr<PyModel>>(mod, "_Model")
        .def_static(
            "load",
            [](const std::string& path, const std::string& device, int threads, bool quiet) {
                EngineOptions o{checked_threads(threads), device, quiet};
                auto m = long_call(false, [&] { return std::make_shared<Model>(Model::load(path, o)); });
                return std::make_shared<PyModel>(PyModel{m, path, "", threads});
            },
            py::arg("path"), py::arg("device") = "cpu", py::arg("threads") = 0, py::arg("quiet") = true)
        .def_static(
            "load_bytes",
            [](const py::bytes& b, const std::string& name, const std::string& device, int threads, bool quiet) {
                std::string bytes = b;
                EngineOptions o{checked_threads(threads), device, quiet};
                auto m = long_call(false, [&] { return std::make_shared<Model>(Model::load_bytes(bytes, name, o)); });
                return std::make_shared<PyModel>(PyModel{m, name, std::move(bytes), threads});
            },
            py::arg("data"), py::arg("name"), py::arg("device") = "cpu", py::arg("threads") = 0, py::arg("quiet") = true)
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
                 auto ls = model_call(pm, false, [&] { return pm.m->layers(s); });
                 py::list out;
                 for (const auto& l : ls) out.append(py::make_tuple(l.path, l.type, l.shape));
                 return out;
             })
        .def("num_classes",  // the model's output count for spec-sized input (one probe forward)
             [](PyModel& pm, const py::dict& spec) {
                 const InputSpec s = spec_from(spec);
                 return model_call(pm, false, [&] { return pm.m->num_classes(s); });
             })
        .def("resolve_layer",
             [](PyModel& pm, const std::string& name, const py::dict& spec) {
                 const InputSpec s = spec_from(spec);
                 return model_call(pm, false, [&] { return pm.m->resolve_layer(name, s); });
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
                auto logits = model_call(pm, progress, [&] {
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
                });
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
                auto r = model_call(pm, progress, [&] { return run_pass(*pm.m, *d.ds, s, po); });
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
                auto r = model_call(pm, progress, [&] {
                    return cam_maps(*pm.m, prepared_input(b.data, static_cast<size_t>(b.n)), s, job);
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
                auto r = model_call(pm, progress, [&] { return cam_maps(*pm.m, dataset_images(*d.ds, indices), s, job); });
                return py::make_tuple(to_numpy(std::move(r.logits), {n, r.num_classes}),
                                      to_numpy(std::move(r.probs), {n, r.num_classes}),
                                      to_numpy(std::move(r.maps), {n, s.height, s.width}), to_numpy(std::move(r.labels), {n}));
            },
            py::arg("data"), py::arg("spec"), py::arg("indices"), py::arg("targets"), py::arg("method"), py::arg("layers"),
            py::arg("eigen_smooth"), py::arg("aug_smooth"), py::arg("max_channels"), py::arg("alpha"), py::arg("contrast"),
            py::arg("raw"), py::arg("batch_size"), py::arg("progress"));

    py::class_<PyReport, std::shared_ptr<PyReport>>(mod, "_Report")
        .def_readonly("summary_json", &PyReport::summary_json)
        .def("confusion",
             [](const PyReport& r) {
                 const auto& c = r.an->report.confusion;
                 std::vector<long long> v = c.counts;
                 return to_numpy(std::move(v), {c.k, c.k});
             })
        .def("figures",
             [](const PyReport& r) {  // the report's own figure formatters, as PNG bytes
                 const Report& rep = r.an->report;
                 py::dict d;
                 auto png = [](std::vector<std::uint8_t> b) {
                     return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
                 };
                 std::vector<std::uint8_t> cm, tp, rel, li;
                 {
                     py::gil_scoped_release release;
                     cm = figures::confusion_png(rep, r.an->options);
                     tp = figures::top_pairs_png(rep);
                     rel = figures::reliability_png(rep);
                     if (!rep.label_issue_rows.empty())
                         li = figures::label_issues_png(rep, r.an->input, r.an->options);
                 }
                 d["confusion_matrix"] = png(std::move(cm));
                 d["top_confused_pairs"] = png(std::move(tp));
                 d["reliability_diagram"] = png(std::move(rel));
                 if (!li.empty()) d["likely_label_errors"] = png(std::move(li));
                 return d;
             })
        .def("rows",  // every analysed image: dataset index, label, prediction, its confidence, p(label)
             [](const PyReport& r) {
                 const auto& rows = r.an->report.rows;
                 std::vector<int> idx, lab, pred;
                 std::vector<float> conf, pt;
                 for (const auto& x : rows) {
                     idx.push_back(x.index);
                     lab.push_back(x.label);
                     pred.push_back(x.pred);
                     conf.push_back(x.confidence);
                     pt.push_back(x.p_true);
                 }
                 const auto n = static_cast<py::ssize_t>(rows.size());
                 py::dict d;
                 d["index"] = to_numpy(std::move(idx), {n});
                 d["label"] = to_numpy(std::move(lab), {n});
                 d["pred"] = to_numpy(std::move(pred), {n});
                 d["confidence"] = to_numpy(std::move(conf), {n});
                 d["p_true"] = to_numpy(std::move(pt), {n});
                 return d;
             })
        .def("terminal_summary", [](const PyReport& r) { return format_terminal_summary(r.an->report); })
        .def(
            "write",
            [](const PyReport& r, const std::string& out, bool progress) {
                model_call(*r.model, progress, [&] {
                    check_report_destination(out);
                    write_analysis(*r.an, out);  // store/ too when analyze(store=True)
                    return 0;
                });
            },
            py::arg("out"), py::arg("progress") = true);

    // The library's AnalyzeSettings from analyze()'s and analyze_shard()'s arguments.
    auto settings = [](const PyDataset& d, const std::string& method, bool eigen_smooth, bool aug_smooth,
                       int max_channels, double alpha, int batch_size, size_t limit, const py::object& faithfulness_n,
                       const py::dict& report_options, const std::string& chunk_dir, bool resume, size_t chunk,
                       bool progress) {
        AnalyzeSettings as;
        as.cam = cam_settings(method, {}, eigen_smooth, aug_smooth, max_channels, alpha);  // layers: resolved later
        as.batch_size = batch_size;
        as.limit = limit;
        as.progress = true;  // the bars reach the sink, which draws them only if `progress` (Ctrl-C is checked either way)
        as.faithfulness_explicit = !faithfulness_n.is_none();
        as.faithfulness_n = faithfulness_n.is_none() ? 100 : faithfulness_n.cast<size_t>();
        as.quiet = !progress;
        as.store.chunk_dir = chunk_dir;  // "<out>.partial" (chunk_folder) when given an out; else in memory
        as.store.resume = resume;
        if (chunk == 0) throw UsageError("chunk must be > 0");
        as.store.chunk = chunk;
        as.store.data_split = d.split;
        as.store.data_format_flag = d.format;
        AnalysisOptions& ro = as.report;
        for (auto [k, v] : report_options) {
            const std::string key = py::str(k);
            if (key == "worst") ro.worst_k = v.cast<int>();
            else if (key == "best") ro.best_k = v.cast<int>();
            else if (key == "high_conf") ro.high_conf = v.cast<double>();
            else if (key == "low_conf") ro.low_conf = v.cast<double>();
            else if (key == "top_pairs") ro.top_pairs = v.cast<int>();
            else if (key == "pair_figures") ro.confused_pair_figures = v.cast<int>();
            else if (key == "row_normalised") ro.row_normalised_matrix = v.cast<bool>();
            else throw UsageError("analyze: unknown option '" + key + "'");
        }
        if (!(ro.high_conf >= 0 && ro.high_conf <= 1)) throw UsageError("high_conf must be in 0..1");
        if (!(ro.low_conf >= 0 && ro.low_conf <= 1)) throw UsageError("low_conf must be in 0..1");
        if (ro.worst_k < 0 || ro.best_k < 0 || ro.top_pairs < 0 || ro.confused_pair_figures < 0)
            throw UsageError("worst, best, top_pairs and pair_figures must be >= 0");
        return as;
    };
    auto identity = [](const PyModel& pm, const PyDataset& d, const InputSpec& s) {
        RunIdentity id;
        if (pm.bytes.empty()) identify_model(id, pm.path);
        else identify_model_bytes(id, pm.path, pm.bytes);
        identify_dataset(id, *d.ds, d.path);
        identify_input(id, s);
        return id;
    };

    mod.def(
        "analyze",
        [settings, identity](std::shared_ptr<PyModel> pm, std::shared_ptr<PyDataset> d, const py::dict& spec,
                             const std::string& layer, const std::string& method, bool eigen_smooth, bool aug_smooth,
                             int max_channels, double alpha, int batch_size, size_t limit, py::object faithfulness_n,
                             const py::dict& report_options, bool store, const std::string& chunk_dir, bool resume,
                             size_t chunk, bool progress) {
            const InputSpec s = spec_from(spec);
            AnalyzeSettings as = settings(*d, method, eigen_smooth, aug_smooth, max_channels, alpha, batch_size, limit,
                                          faithfulness_n, report_options, chunk_dir, resume, chunk, progress);
            as.store.in_report = store;
            auto rep = std::make_shared<PyReport>();
            rep->data = d;
            rep->model = pm;
            rep->spec = s;
            model_call(*pm, progress, [&] {
                as.cam.layers = {pm->m->resolve_layer(layer, s)};
                const RunIdentity id = identity(*pm, *d, s);
                rep->an = std::make_shared<Analysis>(analyze_dataset(*pm->m, *d->ds, s, as, id, pm->path, d->path));
                rep->summary_json = camscope::summary_json(rep->an->report, rep->an->options);
                return 0;
            });
            return rep;
        },
        py::arg("model"), py::arg("data"), py::arg("spec"), py::arg("layer"), py::arg("method"), py::arg("eigen_smooth"),
        py::arg("aug_smooth"), py::arg("max_channels"), py::arg("alpha"), py::arg("batch_size"), py::arg("limit"),
        py::arg("faithfulness_n"), py::arg("report_options"), py::arg("store"), py::arg("chunk_dir"), py::arg("resume"),
        py::arg("chunk"), py::arg("progress"));
    mod.def(
        "analyze_shard",  // as `camscope analyze --shard K/N`: the slice's pass and its store in `out`, nothing else
        [settings, identity](std::shared_ptr<PyModel> pm, std::shared_ptr<PyDataset> d, const py::dict& spec,
                             const std::string& out, int k, int n, const std::string& layer, const std::string& method,
                             bool eigen_smooth, bool aug_smooth, int max_channels, double alpha, int batch_size,
                             size_t limit, bool resume, size_t chunk, bool progress) {
            const InputSpec s = spec_from(spec);
            if (n <= 0 || k < 0 || k >= n) throw UsageError(format("shard %d/%d: need 0 <= K < N", k, n));
            AnalyzeSettings as = settings(*d, method, eigen_smooth, aug_smooth, max_channels, alpha, batch_size, limit,
                                          py::int_(0), py::dict(), chunk_folder(out), resume, chunk, progress);
            as.store.shard = k;
            as.store.shards = n;
            model_call(*pm, progress, [&] {
                check_store_destination(out);
                as.cam.layers = {pm->m->resolve_layer(layer, s)};
                write_shard(analyze_pass(*pm->m, *d->ds, s, as, identity(*pm, *d, s), pm->path, d->path), out);
                return 0;
            });
        },
        py::arg("model"), py::arg("data"), py::arg("spec"), py::arg("out"), py::arg("k"), py::arg("n"), py::arg("layer"),
        py::arg("method"), py::arg("eigen_smooth"), py::arg("aug_smooth"), py::arg("max_channels"), py::arg("alpha"),
        py::arg("batch_size"), py::arg("limit"), py::arg("resume"), py::arg("chunk"), py::arg("progress"));
    mod.def("chunk_folder", &chunk_folder, py::arg("out"));

    py::class_<PyExplorer, std::shared_ptr<PyExplorer>>(mod, "_Explorer")
        .def_readonly("url", &PyExplorer::url)
        .def_readonly("port", &PyExplorer::port)
        .def("stop", &PyExplorer::halt)
        .def("running", &PyExplorer::running);

    mod.def(
        "explore",
        [](std::shared_ptr<PyReport> rep, const std::string& host, int port, const std::string& frame_ancestors) {
            serve::check_frame_ancestors(frame_ancestors);  // a UsageError here, before anything starts
            auto e = std::make_shared<PyExplorer>();
            e->model = rep->model;
            e->data = rep->data;
            {
                ScopedThreads threads(rep->model->threads);
                py::gil_scoped_release release;
                nlohmann::json data = explorer_data(rep->an->report, rep->an->input);
                e->explorer = std::make_unique<serve::Explorer>(*rep->model->m, *rep->data->ds, rep->spec, std::move(data),
                                                                rep->model->m->layers(rep->spec), "",
                                                                serve::kServeMaxChannels,
                                                                rep->an->manifest.identity.cam.alpha);
            }
            serve::ServeOptions so;
            so.host = host;
            so.port = port;
            so.http_threads = 4;
            so.frame_ancestors = frame_ancestors;  // the notebook's IFrame (camscope.explore)
            so.stop = e->stop;
            // Shared with the server thread, which outlives this call.
            struct Handshake {
                std::mutex mu;
                std::condition_variable cv;
                bool ready = false;
                std::string failed;
            };
            auto hs = std::make_shared<Handshake>();
            PyExplorer* raw = e.get();  // the thread is joined before *e is destroyed
            e->thread = std::thread([raw, so, hs] {
                try {
                    serve::run_server(*raw->explorer, so, [&](const serve::ListenInfo& at) {
                        std::lock_guard lock(hs->mu);
                        raw->url = at.url;
                        raw->port = at.port;
                        hs->ready = true;
                        hs->cv.notify_all();
                    });
                } catch (const std::exception& ex) {
                    std::lock_guard lock(hs->mu);
                    if (!hs->ready) {
                        hs->failed = ex.what();
                        hs->ready = true;
                        hs->cv.notify_all();
                    } else {
                        fprintf(stderr, "camscope explorer: %s\n", ex.what());
                    }
                }
                raw->ended.store(true);
            });
            {
                py::gil_scoped_release release;
                std::unique_lock lock(hs->mu);
                hs->cv.wait(lock, [&] { return hs->ready; });
            }
            if (!hs->failed.empty()) {
                e->thread.join();
                throw Error(hs->failed);
            }
            return e;
        },
        py::arg("report"), py::arg("host") = "127.0.0.1", py::arg("port") = 0, py::arg("frame_ancestors") = "'none'");
}

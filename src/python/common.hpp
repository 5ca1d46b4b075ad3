// What every file of camscope._camscope shares: the long call (the GIL released, the library's
// progress bars routed to Python, where Ctrl-C is checked: common.cpp), the conversions between
// Python values and the library's, the C++ side of the Python objects (dataset, model, report),
// and one bind_* function per file, which module.cpp calls in the order the module defines them.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "camscope/data/dataset.hpp"
#include "camscope/engine/cam_settings.hpp"
#include "camscope/engine/threads.hpp"
#include "camscope/image/image.hpp"
#include "camscope/util/error.hpp"

namespace camscope {
class Model;
struct Analysis;
}  // namespace camscope

namespace camscope::bindings {

namespace py = pybind11;

// ------------------------------------------------------------------ the long call

/// Set for the duration of one long call, made with the GIL held: the library's bars go to
/// Python from this thread only (others' advances are seen in the counts of the next one).
struct ProgressGuard {
    ProgressGuard(bool show);
    ~ProgressGuard();
};

/// Runs f with the GIL released and the progress of this thread shown (or not).
template <class F>
auto long_call(bool show, F&& f) {
    ProgressGuard guard(show);
    py::gil_scoped_release release;
    return f();
}

// ------------------------------------------------------------------ conversions

InputSpec spec_from(const py::dict& d);
py::dict spec_to(const InputSpec& s);

template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
    auto* heap = new std::vector<T>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(shape, heap->data(), owner);
}

/// img as uint8 H×W×C.
py::array_t<std::uint8_t> image_to_numpy(const Image& img);

/// Image i of `a`: uint8, N×H×W or N×H×W×C (C = 1 or 3), C-contiguous (uint8_images).
Image image_from(const py::array& a, size_t i, const std::string& what);

/// `obj` as C-contiguous uint8 images N×H×W×C (C = 1 or 3) or N×H×W; N = 0 only `if allow_empty`
/// (a batch: an empty result), never H or W = 0.
py::array uint8_images(const py::handle& obj, const std::string& what, bool allow_empty = false);

/// The library's CamSettings from the Python keywords (one place for every binding).
CamSettings cam_settings(const std::string& method, std::vector<std::string> layers, bool eigen_smooth, bool aug_smooth,
                         int max_channels, double alpha);

// ------------------------------------------------------------------ the Python objects' C++ side

/// The Python Dataset's C++ side. `path` is what reports and identities name.
struct PyDataset {
    std::shared_ptr<Dataset> ds;
    std::string path;
    std::string split = "test", format;  // how it was opened (the store manifest's data_flags)
};

struct PyModel {
    std::shared_ptr<Model> m;
    std::string path;   // file, or the name of a model given as bytes
    std::string bytes;  // serialized module (load_bytes), for the run identity; empty for files
    /// Model(threads=...): LibTorch's thread count during this model's calls: N > 0; 0 = PyTorch's
    /// (the caller's) setting; kAutoThreads = call_threads' rule.
    int threads = 0;
};

/// Model(threads=None), the default: 1 thread for a call on fewer than kFewImages images (small
/// calls: one thread is as fast or faster, and several are 2-40x slower on a busy machine: see
/// docs/benchmarks.md), PyTorch's setting otherwise.
constexpr int kAutoThreads = -1;
constexpr std::size_t kFewImages = 64;

/// The thread count of one call on `images` images (ScopedThreads': <= 0 = leave the caller's).
inline int call_threads(const PyModel& pm, std::size_t images) {
    if (pm.threads != kAutoThreads) return pm.threads;
    return images < kFewImages ? 1 : 0;
}

/// The library's messages name the CLI's flags (resolve_input_spec, the layouts, the layer choice,
/// `--logits X`); in Python they name the package's arguments (input_size, mean/std, layout=,
/// logits=1, logits='aux', Model.layers(), ...). The one rewording of every edge call.
std::string with_python_arguments(std::string msg);

/// f(), its errors worded with the package's arguments (with_python_arguments).
template <class F>
auto worded(F&& f) {
    try {
        return f();
    } catch (const UsageError& e) {
        throw UsageError(with_python_arguments(e.what()));
    } catch (const Error& e) {
        throw Error(with_python_arguments(e.what()));
    }
}

/// A long call on a model (see long_call) on `images` images (unknown: many): with the model's
/// thread count for its duration only (PyTorch's setting is the caller's: it is left as it was),
/// or the caller's count; its errors worded with the package's arguments.
template <class F>
auto model_call(const PyModel& pm, bool show, F&& f, std::size_t images = SIZE_MAX) {
    ScopedThreads threads(call_threads(pm, images));
    return worded([&] { return long_call(show, std::forward<F>(f)); });
}

struct PyReport {
    std::shared_ptr<PyDataset> data;  // the AnalysisInput's loader reads from it
    std::shared_ptr<PyModel> model;
    std::shared_ptr<Analysis> an;
    InputSpec spec;
    std::string summary_json;  // as summary.json would hold it (no file list)
};

// ------------------------------------------------------------------ the module, file by file

void bind_common(py::module_& mod);   // common.cpp: Error, UsageError, progress; cam_methods, parse_class, overlay_png
void bind_data(py::module_& mod);     // data.cpp: _Dataset
void bind_model(py::module_& mod);    // model.cpp: _Model (input spec, predictions, CAMs)
void bind_report(py::module_& mod);   // report.cpp: _Report, analyze, analyze_shard, chunk_folder
void bind_explore(py::module_& mod);  // explore.cpp: _Explorer, explore
void bind_rescore(py::module_& mod);  // rescore.cpp: rescore

}  // namespace camscope::bindings

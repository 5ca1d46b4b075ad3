// camscope._camscope, what every binding file shares (common.hpp): the long call and the progress
// sink (the library's bars drawn by Python, Ctrl-C checked there), the conversions, the module's
// exceptions, and the module's small free functions (CAM methods, class parsing, the overlay).
#include "common.hpp"

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "camscope/data/class_ref.hpp"
#include "camscope/engine/engine.hpp"
#include "camscope/image/cam_view.hpp"
#include "camscope/image/image.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/progress.hpp"

namespace camscope::bindings {

namespace {

// ------------------------------------------------------------------ progress and Ctrl-C

/// Thrown from the progress sink when Python has a pending KeyboardInterrupt. Not a
/// std::exception, so no `catch (const std::exception&)` in the library turns it into an Error;
/// the library's RAII (StagedDir, atomic writes) removes what was half-made while it unwinds.
struct Interrupted {};

std::mutex g_call_mu;
std::thread::id g_owner;      // the Python thread of the call in progress
bool g_show = false;          // draw its bars
py::object* g_draw = nullptr;  // camscope._progress.event(label, done, total, final, seconds); leaked on purpose

void progress_sink(const std::string& label, std::size_t done, std::size_t total, bool final, double seconds) {
    bool show = false;
    {
        std::lock_guard lock(g_call_mu);
        if (std::this_thread::get_id() != g_owner) return;
        show = g_show;
    }
    py::gil_scoped_acquire gil;
    if (show && g_draw) {
        try {
            (*g_draw)(label, done, total, final, seconds);
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

}  // namespace

ProgressGuard::ProgressGuard(bool show) {
    std::lock_guard lock(g_call_mu);
    g_owner = std::this_thread::get_id();
    g_show = show;
}

ProgressGuard::~ProgressGuard() {
    std::lock_guard lock(g_call_mu);
    g_owner = std::thread::id();
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

py::array_t<std::uint8_t> image_to_numpy(const Image& img) {
    std::vector<std::uint8_t> px = img.pixels;
    return to_numpy(std::move(px), {img.height, img.width, img.channels});
}

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

py::array uint8_images(const py::handle& obj, const std::string& what, bool allow_empty) {
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

namespace {

/// `--logits X` as `logits=X` (a whole number as it is, a key quoted: logits='aux').
std::string with_logits_keyword(const std::string& msg) {
    static const std::string flag = "--logits ";
    std::string out;
    size_t from = 0;
    for (size_t at; (at = msg.find(flag, from)) != std::string::npos;) {
        out.append(msg, from, at - from);
        size_t end = at + flag.size();
        while (end < msg.size() && msg[end] != ' ' && msg[end] != ',' && msg[end] != ')' &&
               !(msg[end] == ':' && (end + 1 == msg.size() || msg[end + 1] == ' ')))
            ++end;
        const std::string value = msg.substr(at + flag.size(), end - at - flag.size());
        const bool number = !value.empty() && value.find_first_not_of("-0123456789") == std::string::npos;
        const bool placeholder = value == "INDEX" || value == "KEY";
        out += "logits=" + (number || placeholder ? value : "'" + value + "'");
        from = end;
    }
    out.append(msg, from, std::string::npos);
    // "leave out --logits": the flag without a value
    for (size_t at; (at = out.find("--logits")) != std::string::npos;) out.replace(at, 8, "logits");
    return out;
}

}  // namespace

std::string with_python_arguments(std::string msg) {
    msg = with_logits_keyword(msg);
    static const std::pair<std::string, std::string> words[] = {
        {"--input-size HxW", "input_size=(H, W) to camscope.Model"}, {"--input-size", "input_size"},
        {"--mean/--std", "mean/std"}, {"--mean", "mean"}, {"--std", "std"}, {"--norm", "norm"},
        {"--layout/--grid", "layout=/grid= to camscope.Model"}, {"--layout ", "layout="}, {"--layout", "layout="},
        {"--grid ", "grid="}, {"--grid", "grid="}, {"--layer ", "layer="}, {"--layer", "layer="},
        {"--channels C", "channels=C"}, {"--channels", "channels="}, {"`camscope layers MODEL`", "Model.layers()"},
        {"`camscope layers`", "Model.layers()"}};
    for (const auto& [flag, argument] : words)
        for (size_t at; (at = msg.find(flag)) != std::string::npos;) msg.replace(at, flag.size(), argument);
    return msg;
}

void bind_common(py::module_& mod) {
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
}

}  // namespace camscope::bindings

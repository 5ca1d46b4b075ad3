#include "camscope/engine/torch_internal.hpp"

#include "camscope/util/error.hpp"

namespace camscope {

std::string first_line(const std::string& what) {
    // An error raised inside a TorchScript forward (torch::jit::JITException) starts with
    // "The following operation failed in the TorchScript interpreter." and a traceback; the
    // actual error ("RuntimeError: Given groups=1, weight of size ...") is its last line.
    if (what.rfind("The following operation failed in the TorchScript interpreter", 0) == 0) {
        auto end = what.find_last_not_of(" \n");
        if (end != std::string::npos) {
            auto start = what.rfind('\n', end);
            return what.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
        }
    }
    auto pos = what.find('\n');
    return pos == std::string::npos ? what : what.substr(0, pos);
}

namespace engine {

namespace {
std::string shape_text(const torch::Tensor& t) {
    std::string shape = "[";
    for (auto d : t.sizes()) {  // appended piece by piece: GCC 12 -Wstringop-overflow false positive
        if (shape.size() > 1) shape += 'x';
        shape += std::to_string(d);
    }
    return shape + "]";
}
}  // namespace

namespace {
std::string row_name(const RowName& name, std::int64_t row) {
    return name ? name(row) : "batch row " + std::to_string(row);
}

/// The first row (dim 0) of `t` with a NaN or infinite element, or −1.
std::int64_t first_non_finite_row(const torch::Tensor& t) {
    if (t.numel() == 0 || torch::isfinite(t).all().item<bool>()) return -1;
    return torch::isfinite(t).flatten(1).all(1).logical_not().nonzero()[0][0].item<std::int64_t>();
}
}  // namespace

void check_finite_input(const torch::Tensor& x, const std::string& model_path, const RowName& name) {
    const auto row = first_non_finite_row(x);
    if (row < 0) return;
    const auto img = x[row];
    const auto nan = torch::isnan(img).sum().item<std::int64_t>(), inf = torch::isinf(img).sum().item<std::int64_t>();
    throw Error(model_path + ": " + row_name(name, row) + " has " +
                (nan ? std::to_string(nan) + " NaN" + (inf ? " and " : "") : std::string()) +
                (inf ? std::to_string(inf) + " infinite" : std::string()) + " of its " + std::to_string(img.numel()) +
                " input values (after normalisation): its logits are not finite, and no prediction or CAM of it "
                "means anything. Check the image file and the normalisation (a std of 0?)");
}

torch::Tensor logits_of(const c10::IValue& out, const std::string& model_path, std::int64_t rows, const RowName& name) {
    c10::IValue v = out;
    if (v.isTuple()) {
        const auto& elems = v.toTuple()->elements();
        if (elems.empty()) throw Error(model_path + ": model output is an empty tuple, expected an N×C logits tensor");
        v = elems[0];
    }
    if (!v.isTensor()) throw Error(model_path + ": model output is " + v.tagKind() + ", expected an N×C logits tensor");
    auto t = v.toTensor();
    if (t.dim() != 2)
        throw Error(model_path + ": model output has shape " + shape_text(t) + ", expected N×C logits (2-D)");
    // One row per input image: a model that drops or adds rows (returns only row 0, concatenates
    // something) would otherwise shift every prediction against its label, or be read past its end.
    if (t.size(0) != rows)
        throw Error(model_path + ": model output has shape " + shape_text(t) + " for " + std::to_string(rows) +
                    (rows == 1 ? " input image" : " input images") + ", expected " + std::to_string(rows) +
                    "×C logits (one row per image)");
    if (t.size(1) < 1) throw Error(model_path + ": model output has shape " + shape_text(t) + ", expected at least one class");
    if (!t.is_floating_point()) throw Error(model_path + ": model output is not floating point");
    t = t.to(torch::kFloat32);
    const auto bad = first_non_finite_row(t);
    if (bad >= 0)
        throw Error(model_path + ": the logits of " + row_name(name, bad) +
                    " are not finite (the model produced NaN or infinite logits): " +
                    "its prediction and CAMs would mean nothing");
    return t;
}

void copy_out(const torch::Tensor& t, std::vector<float>& dst) {
    auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    dst.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace engine
}  // namespace camscope

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

torch::Tensor logits_of(const c10::IValue& out, const std::string& model_path, std::int64_t rows) {
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
    if (!torch::isfinite(t).all().item<bool>())
        throw Error(model_path + ": model produced NaN or infinite logits");
    return t;
}

void copy_out(const torch::Tensor& t, std::vector<float>& dst) {
    auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    dst.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace engine
}  // namespace camscope

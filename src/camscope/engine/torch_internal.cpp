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

torch::Tensor logits_of(const c10::IValue& out, const std::string& model_path) {
    c10::IValue v = out;
    if (v.isTuple()) v = v.toTuple()->elements().at(0);
    if (!v.isTensor()) throw Error(model_path + ": model output is " + v.tagKind() + ", expected an N×C logits tensor");
    auto t = v.toTensor();
    if (t.dim() != 2) {
        std::string shape;
        for (auto d : t.sizes()) shape += (shape.empty() ? "" : "x") + std::to_string(d);
        throw Error(model_path + ": model output has shape [" + shape + "], expected N×C logits (2-D)");
    }
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

#include "camscope/engine/torch_internal.hpp"

#include <algorithm>
#include <optional>

#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

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

namespace {

/// "1×10 float" for a tensor, the kind of anything else ("int", "tuple", "None").
std::string describe_value(const c10::IValue& v) {
    if (v.isTensor()) {
        const auto& t = v.toTensor();
        std::string text;
        for (auto d : t.sizes()) {  // appended piece by piece: GCC 12 -Wstringop-overflow false positive
            if (!text.empty()) text += "×";
            text += std::to_string(d);
        }
        if (t.dim() == 0) text = "scalar";
        text += ' ';
        text += to_lower(c10::toString(t.scalar_type()));
        return text;
    }
    if (v.isNone()) return "None";
    if (v.isTuple()) return "tuple";
    if (v.isList()) return "list";
    if (v.isGenericDict()) return "dict";
    return to_lower(v.tagKind());
}

/// The text a dict key is chosen by (--logits KEY) and the way messages name it (['aux'], [3]).
std::string key_text(const c10::IValue& k) {
    if (k.isString()) return k.toStringRef();
    if (k.isInt()) return std::to_string(k.toInt());
    return "<" + describe_value(k) + " key>";
}
std::string key_label(const c10::IValue& k) { return k.isString() ? "['" + k.toStringRef() + "']" : "[" + key_text(k) + "]"; }

/// A whole number (optional minus sign, digits only), or nullopt.
std::optional<std::int64_t> as_index(const std::string& s) {
    const size_t digits = s.size() - (s.rfind('-', 0) == 0 ? 1 : 0);
    if (digits == 0 || digits > 18 || !std::all_of(s.end() - static_cast<std::ptrdiff_t>(digits), s.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    return std::stoll(s);
}

/// A container output's elements as (label, selector text, value): tuple/list by position, dict by key.
struct Element {
    std::string label, choose;  // "[1]" / "['aux']"; what --logits takes: "1" / "aux"
    c10::IValue value;
};

/// The logits element of a tuple, list or dict output (logits_of's rule).
c10::IValue select_element(const c10::IValue& out, const ModelInfo& model, std::int64_t rows, std::string& what) {
    const bool dict = out.isGenericDict();
    std::vector<Element> elems;
    if (dict) {
        for (const auto& kv : out.toGenericDict()) elems.push_back({key_label(kv.key()), key_text(kv.key()), kv.value()});
    } else {
        std::vector<c10::IValue> values;
        if (out.isTuple())
            for (const auto& v : out.toTupleRef().elements()) values.push_back(v);
        else
            for (const auto& v : out.toListRef()) values.push_back(v);
        for (size_t i = 0; i < values.size(); ++i) elems.push_back({"[" + std::to_string(i) + "]", std::to_string(i), values[i]});
    }
    const std::string kind = dict ? "dict" : out.isTuple() ? "tuple" : "list";
    const std::string returns = "the model returns a " + kind + " of " + std::to_string(elems.size()) +
                                (elems.size() == 1 ? " element" : " elements");
    std::string listing;
    for (const auto& e : elems) listing += (listing.empty() ? "" : ", ") + e.label + " " + describe_value(e.value);
    const std::string how = dict ? "--logits KEY" : "--logits INDEX";
    auto examples = [&](const std::vector<const Element*>& among) {
        std::string text;
        for (size_t i = 0; i < among.size(); ++i)
            text += (i == 0 ? "" : i + 1 == among.size() ? " or " : ", ") + ("--logits " + among[i]->choose);
        return text;
    };
    std::vector<const Element*> all;
    for (const auto& e : elems) all.push_back(&e);
    auto pick = [&](const Element& e) {
        what = "model output " + e.label;
        return e.value;
    };
    if (elems.empty()) throw Error(model.path + ": " + returns + ", expected N×C logits among them");
    const std::string& sel = model.logits;
    if (!sel.empty()) {
        if (dict) {
            for (const auto& e : elems)
                if (e.choose == sel) return pick(e);
            throw UsageError(model.path + ": --logits " + sel + ": " + returns + " and no key '" + sel + "': " + listing +
                             ". Choose one with " + how + " (" + examples(all) + ")");
        }
        const auto i = as_index(sel);
        const auto size = static_cast<std::int64_t>(elems.size());
        if (!i)
            throw UsageError(model.path + ": --logits " + sel + ": " + returns + ", chosen by position, not by key: " +
                             listing + ". Choose one with " + how + " (" + examples(all) + ")");
        if (*i >= size || *i < -size)
            throw UsageError(model.path + ": --logits " + sel + ": " + returns + " (" + listing + "), index 0.." +
                             std::to_string(size - 1) + ". Choose one with " + how + " (" + examples(all) + ")");
        return pick(elems[static_cast<size_t>(*i < 0 ? *i + size : *i)]);
    }
    std::vector<const Element*> candidates;
    for (const auto& e : elems) {
        if (!e.value.isTensor()) continue;
        const auto& t = e.value.toTensor();
        if (t.is_floating_point() && t.dim() == 2 && t.size(0) == rows) candidates.push_back(&e);
    }
    const std::string candidate = "N×C logits (floating point, 2-D, one row per image)";
    if (candidates.size() == 1) return pick(*candidates.front());
    if (candidates.empty()) throw Error(model.path + ": " + returns + ", and none is " + candidate + ": " + listing);
    throw UsageError(model.path + ": which element holds the logits is ambiguous: " + returns + ", and " +
                     std::to_string(candidates.size()) + " could be " + candidate + ": " + listing +
                     ". Choose one with " + how + " (" + examples(candidates) + ")");
}

}  // namespace

torch::Tensor logits_of(const c10::IValue& out, const ModelInfo& model, std::int64_t rows, const RowName& name) {
    const std::string& model_path = model.path;
    c10::IValue v = out;
    std::string what = "model output";
    if (v.isTuple() || v.isList() || v.isGenericDict()) {
        v = select_element(out, model, rows, what);
    } else if (!model.logits.empty()) {
        throw UsageError(model_path + ": --logits " + model.logits + " chooses an element of a tuple, list or dict " +
                         "output, but the model returns " + (v.isTensor() ? "one tensor (" + describe_value(v) + ")" : describe_value(v)) +
                         ": leave out --logits");
    }
    if (!v.isTensor()) throw Error(model_path + ": " + what + " is " + v.tagKind() + ", expected an N×C logits tensor");
    auto t = v.toTensor();
    if (t.dim() != 2)
        throw Error(model_path + ": " + what + " has shape " + shape_text(t) + ", expected N×C logits (2-D)");
    // One row per input image: a model that drops or adds rows (returns only row 0, concatenates
    // something) would otherwise shift every prediction against its label, or be read past its end.
    if (t.size(0) != rows)
        throw Error(model_path + ": " + what + " has shape " + shape_text(t) + " for " + std::to_string(rows) +
                    (rows == 1 ? " input image" : " input images") + ", expected " + std::to_string(rows) +
                    "×C logits (one row per image)");
    if (t.size(1) < 1) throw Error(model_path + ": " + what + " has shape " + shape_text(t) + ", expected at least one class");
    if (!t.is_floating_point()) throw Error(model_path + ": " + what + " is not floating point");
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

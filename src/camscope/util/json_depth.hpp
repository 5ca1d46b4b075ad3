#pragma once
// The nesting depth of a JSON document, found without recursion: a document 10^5 levels deep must
// not exhaust the stack of whatever checks it (nor of what walks it later, e.g. json::dump, which is
// why readers of untrusted JSON refuse deep documents first).
#include <algorithm>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace camscope {

/// The depth of `root` (a scalar: 1), or a value above `stop_above` as soon as one is found.
inline int json_depth(const nlohmann::json& root, int stop_above) {
    int deepest = 0;
    std::vector<std::pair<const nlohmann::json*, int>> stack{{&root, 1}};
    while (!stack.empty()) {
        const auto [v, d] = stack.back();
        stack.pop_back();
        deepest = std::max(deepest, d);
        if (d > stop_above) return d;
        if (v->is_structured())
            for (const auto& child : *v) stack.push_back({&child, d + 1});
    }
    return deepest;
}

}  // namespace camscope

// One parser of `pred | true | <index> | <class name>` for the CLI, the server and Python (class_ref.hpp).
#include "camscope/data/class_ref.hpp"

#include <algorithm>
#include <charconv>
#include <tuple>

#include "camscope/util/strings.hpp"

namespace camscope {

namespace {

constexpr std::size_t kQuoted = 64;  // bytes of a value a message repeats (a query may be megabytes)

std::string quoted(std::string_view v) {
    std::string out(1, '\'');
    out.append(v.substr(0, kQuoted));
    if (v.size() > kQuoted) out.append("...' (").append(std::to_string(v.size())).append(" bytes)");
    else out.push_back('\'');
    return out;
}

bool all_digits(std::string_view v) {
    return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// "indices 0 to 9" / "no classes".
std::string index_range(std::size_t count) {
    return count == 0 ? "no class index" : "a class index 0 to " + std::to_string(count - 1);
}

std::string expected(const ClassList& c, bool keywords) {
    std::string s = keywords ? "pred, true, " : "";
    s += index_range(c.count);
    if (!c.names.empty()) s += " or a class name";
    return s;
}

/// Up to 3 names close to `v` (edit distance ignoring case at most a third of its length, at least
/// 1; or one holding the other), nearest first; "" when none. Long values are not compared (the
/// distance costs |v| × |name|).
std::string close_names(std::string_view v, const std::vector<std::string>& names) {
    if (v.empty() || v.size() > kQuoted) return {};
    const std::string lv = to_lower(v);
    const std::size_t limit = std::max<std::size_t>(1, lv.size() / 3);
    std::vector<std::tuple<std::size_t, std::size_t, const std::string*>> near;  // distance, index, name
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string ln = to_lower(names[i]);
        if (ln.size() > 4 * kQuoted) continue;
        std::size_t d = edit_distance(lv, ln);
        const bool holds = lv.size() >= 3 && (ln.find(lv) != std::string::npos || lv.find(ln) != std::string::npos);
        if (d <= limit || holds) near.emplace_back(d, i, &names[i]);
    }
    std::sort(near.begin(), near.end());
    std::vector<std::string> out;
    for (std::size_t k = 0; k < near.size() && k < 3; ++k) out.push_back("'" + *std::get<2>(near[k]) + "'");
    return join(out, ", ");
}

[[noreturn]] void unknown(std::string_view v, const ClassList& c, const std::string& where, bool keywords) {
    if (c.names.empty())
        throw UsageError(where + "unknown class " + quoted(v) + ": the model's classes have no names (expected " +
                         expected(c, keywords) + ")");
    std::string msg = where + "unknown class " + quoted(v);
    if (const std::string near = close_names(v, c.names); !near.empty()) msg += " (did you mean " + near + "?)";
    else if (c.names.size() <= 10) msg += " (the classes: " + join(c.names, ", ") + ")";
    throw UsageError(msg + "; expected " + expected(c, keywords));
}

/// Rules 2 and 3 of class_ref.hpp.
int index_or_name(std::string_view v, const ClassList& c, const std::string& where, bool keywords) {
    const bool negative = v.size() > 1 && v.front() == '-' && all_digits(v.substr(1));
    if (all_digits(v) || negative) {
        unsigned long long k = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), k);
        if (!negative && ec == std::errc() && end == v.data() + v.size() && k < c.count) return static_cast<int>(k);
        const std::string msg = where + "class " + quoted(v) + " out of range: the model has " +
                                std::to_string(c.count) + " classes (expected " + expected(c, keywords) + ")";
        if (negative) throw UsageError(msg);  // not a well-formed index: the server's 400, not 404
        throw ClassRangeError(msg);
    }
    const int i = find_class_name(v, c.names);
    if (i >= 0 && static_cast<std::size_t>(i) < c.count) return i;
    if (i < 0 && !v.empty()) {  // ambiguous ignoring case?
        std::vector<std::string> same;
        const std::string lv = to_lower(v);
        for (const auto& n : c.names)
            if (to_lower(n) == lv) same.push_back("'" + n + "'");
        if (same.size() > 1)
            throw UsageError(where + "class " + quoted(v) + " is ambiguous: it matches " + join(same, " and ") +
                             " ignoring case; write the name exactly");
    }
    unknown(v, c, where, keywords);
}

}  // namespace

int find_class_name(std::string_view name, const std::vector<std::string>& names) {
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return static_cast<int>(i);
    const std::string lv = to_lower(name);
    int found = -1;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i].size() == name.size() && to_lower(names[i]) == lv) {
            if (found >= 0) return -1;  // several: ambiguous
            found = static_cast<int>(i);
        }
    return found;
}

ClassRef parse_class_ref(std::string_view text, const ClassList& classes, const std::string& where) {
    if (text == "pred") return {ClassRef::Pred, -1};
    if (text == "true") return {ClassRef::True, -1};
    return {ClassRef::Index, index_or_name(text, classes, where, true)};
}

int parse_class(std::string_view text, const ClassList& classes, const std::string& where) {
    if (text == "pred" || text == "true")
        throw UsageError(where + quoted(text) + " names no class here (expected " + expected(classes, false) + ")");
    return index_or_name(text, classes, where, false);
}

}  // namespace camscope

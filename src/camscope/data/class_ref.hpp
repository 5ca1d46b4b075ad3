#pragma once
// A class as a person names it — on the command line (`camscope cam -t/--contrast`), in a query of
// `camscope serve` (target, a, b, contrast, /api/class/{c}, /api/cell/{t}/{p}) or from Python
// (targets=, contrast=, labels) — parsed by one rule with one error wording. Torch-free (in
// camscope_core, reached by the request fuzzer).
//
// The rule, in order:
//   1. `pred` and `true` (exactly, lower case) name the image's prediction and its label, where the
//      caller accepts them (parse_class_ref); parse_class refuses them.
//   2. Digits only ([0-9]+, no sign, no spaces) are a class index, read with std::from_chars as a
//      whole and checked against the class count however many digits it has ("99999999999" is out
//      of range, never an overflow or a wrapped int). A '-' and digits ("-3") is a negative index:
//      out of range too.
//   3. Anything else is a class name: an exact match first, else a match ignoring ASCII case when
//      exactly one name matches so ("cat" finds "Cat"; with both "Cat" and "CAT" present, "cat" is
//      ambiguous and refused, naming both).
// Every refusal is a UsageError that starts with the caller's `where` ("-t/--target: ",
// "parameter 'target': ", "targets[3]: "), quotes the value (at most 64 bytes of it) and says what
// was expected; an unknown name lists the close names. An index past the classes is a
// ClassRangeError, so that the server can answer 404 for it in a path.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "camscope/util/error.hpp"

namespace camscope {

/// A well-formed class index (digits only) at or past the class count.
class ClassRangeError : public UsageError {
public:
    using UsageError::UsageError;
};

/// What a class reference names: the image's prediction, its label, or a fixed class.
struct ClassRef {
    enum Kind { Pred, True, Index } kind = Pred;
    int index = -1;  // Kind::Index: in [0, count)
};

/// The classes a reference is checked against: their names (empty when unknown, e.g. a model
/// without camscope metadata) and their count (names.size() unless given: a model's output count).
struct ClassList {
    const std::vector<std::string>& names;
    std::size_t count;
    explicit ClassList(const std::vector<std::string>& n) : names(n), count(n.size()) {}
    ClassList(const std::vector<std::string>& n, std::size_t c) : names(n), count(c) {}
};

/// `pred`, `true`, a class index or a class name (the rule above).
ClassRef parse_class_ref(std::string_view text, const ClassList& classes, const std::string& where = "");

/// A class index or a class name; `pred` and `true` are refused (the message says so).
int parse_class(std::string_view text, const ClassList& classes, const std::string& where = "");

/// The class of a name alone (rule 3): its index, or -1 when no name matches or several match
/// ignoring case. No index reading, nothing thrown.
int find_class_name(std::string_view name, const std::vector<std::string>& names);

}  // namespace camscope

#pragma once
// Small string helpers that know nothing of the domain.
#include <string>
#include <string_view>
#include <vector>

namespace camscope {

std::string join(const std::vector<std::string>& parts, std::string_view sep);
/// "[a, b, c]".
std::string bracketed(const std::vector<std::string>& parts);
std::vector<std::string> split(std::string_view s, char sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
std::string to_lower(std::string_view s);
std::string trim(std::string_view s);
/// Levenshtein distance (for "did you mean" suggestions).
size_t edit_distance(std::string_view a, std::string_view b);
/// A file-name-safe version of a class name: [A-Za-z0-9_-] kept, anything else becomes '_'; at most
/// kMaxSanitizedName bytes (a longer one: its first 71 bytes, '_' and 8 hex digits of its SHA-256).
constexpr std::size_t kMaxSanitizedName = 80;
std::string sanitize_filename(std::string_view s);
/// A CSV field: quoted (with "" for ") when it holds a comma, quote or line break.
std::string csv_field(std::string_view s);
/// printf-style formatting into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace camscope

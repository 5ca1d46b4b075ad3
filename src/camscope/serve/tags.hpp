#pragma once
// The explorer's image tags ("relabel", "ambiguous", ...; GET/POST api/tags, server.hpp): a map
// row -> tags, kept in memory and, when a file is given (`serve --tags FILE`, or
// <results>/tags.json with --results), persisted there on every change by an atomic write
// (temp + rename: the file is always a complete earlier or later state) and read back at start.
// Torch-free (camscope_core): the body parser is fuzzed (fuzz_serve_request), the store is tested
// without a server.
//
// File and answers: {"tags": {"<row>": ["relabel", ...], ...}} (rows as decimal strings; a row
// without tags is absent). A tag is 1–40 characters of [A-Za-z0-9 _-];
// a row holds at most 16 (duplicates are dropped, the first kept).
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace camscope::serve {

constexpr size_t kMaxTagLength = 40;
constexpr size_t kMaxTagsPerRow = 16;
constexpr size_t kMaxTagsBody = 64 * 1024;  // a POST body larger than this is refused

struct TagUpdate {
    size_t row = 0;
    std::vector<std::string> tags;  // the row's new tags (empty: remove the row)
};

/// A POST api/tags body, {"row": r, "tags": [...]}, checked against `rows` analysed images.
/// Throws RequestError(400) naming the field and what was expected; nothing else.
TagUpdate parse_tag_update(std::string_view body, size_t rows);

class TagStore {
public:
    /// `path` "" keeps the tags in memory only. An existing file is read (Error naming it and the
    /// field when it is not such a file, names a row outside [0, rows) or a malformed tag); a
    /// missing one starts empty and is created on the first change.
    TagStore(std::string path, size_t rows);

    /// {"tags": {...}, "persisted": bool}
    nlohmann::json get() const;
    /// Replaces the row's tags (persisting them first: on a write error nothing changes and the
    /// Error, naming the file, propagates); returns get() after the change.
    nlohmann::json set(const TagUpdate& u);

    bool persisted() const { return !path_.empty(); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    size_t rows_;
    mutable std::mutex mu_;
    std::map<size_t, std::vector<std::string>> tags_;
    static nlohmann::json to_json(const std::map<size_t, std::vector<std::string>>& t);
};

}  // namespace camscope::serve

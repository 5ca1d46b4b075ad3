#pragma once
// The explorer's image tags ("relabel", "ambiguous", ...; GET/POST api/tags, server.hpp): a map
// row -> tags, kept in memory and, when a file is given (`serve --tags FILE`, or
// <results>/tags.json with --results), persisted there on every change by an atomic write
// (temp + rename: the file is always a complete earlier or later state) and read back at start.
// Torch-free (camscope_core): the body parser is fuzzed (fuzz_serve_request), the store is tested
// without a server.
//
// File and answers: {"tags": {"<row>": ["relabel", ...], ...}} (rows as decimal strings; a row
// without tags is absent). A tag is 1–40 characters of [A-Za-z0-9 _-], or "relabel:<k>": the
// label a reviewer chose for the image, k a class index (decimal, no sign or leading zero; below
// the class count where one is given), at most one such tag per row (`camscope rescore` applies
// it: report/rescore.hpp). ':' was never a tag character, so files of earlier versions read the
// same. A row holds at most 16 tags (duplicates are dropped, the first kept). The file is read only if it is a
// regular file (a link to one is followed) of at most kMaxTagsFile bytes.
//
// A change that cannot be written (a read-only folder or file system, a full disk) is not made at
// all, in memory either: TagStore::set throws TagsNotSaved, the server answers 500 with
// {"error": "... not saved ...", "persisted": false, "tags": <the state as before>}, and what GET
// answers afterwards is still what the file holds.
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "camscope/util/error.hpp"

namespace camscope::serve {

constexpr size_t kMaxTagLength = 40;
constexpr size_t kMaxTagsPerRow = 16;
constexpr size_t kMaxTagsBody = 64 * 1024;  // a POST body larger than this is refused
constexpr size_t kMaxTagsFile = size_t{64} << 20;  // a tags file larger than this is refused at start

/// Row -> its tags, as the file holds them.
using TagMap = std::map<size_t, std::vector<std::string>>;

/// The class index k of a tag "relabel:<k>" (the label a reviewer chose), or -1 for any other tag.
int relabel_class(const std::string& tag);
/// The chosen label among a row's tags (its one "relabel:<k>"), or -1 where none is chosen.
int chosen_label(const std::vector<std::string>& tags);
/// The tag naming class k as the chosen label: "relabel:<k>".
std::string relabel_tag(int k);

/// A change the tags file could not take (TagStore::set): nothing changed. what() names the file's
/// full path and the cause (for the server's log); answer() names the file by its name only and the
/// cause (for a client: answers name no local path).
class TagsNotSaved : public Error {
public:
    TagsNotSaved(const std::string& log_message, std::string answer) : Error(log_message), answer_(std::move(answer)) {}
    const std::string& answer() const { return answer_; }

private:
    std::string answer_;
};

struct TagUpdate {
    size_t row = 0;
    std::vector<std::string> tags;  // the row's new tags (empty: remove the row)
};

/// A POST api/tags body, {"row": r, "tags": [...]}, checked against `rows` analysed images (and,
/// `classes` > 0, a chosen label against the class count).
/// Throws RequestError(400) naming the field and what was expected; nothing else.
TagUpdate parse_tag_update(std::string_view body, size_t rows, size_t classes = 0);

/// Reads a tags file (the format above; `classes` as for parse_tag_update): Error naming the file
/// and the field when it is not such a file, names a row outside [0, rows) or holds a malformed tag.
/// `exported`: also the explorer's "tagged JSON" download ({"run": ..., "images": [{"row": r, ...,
/// "tags": [...]}, ...]}, web/explorer/export.js: the tags an offline explorer kept in the
/// browser), each row at most once.
TagMap read_tags_file(const std::string& path, size_t rows, size_t classes = 0, bool exported = false);
/// The same for a tags file's text; errors name `name` in place of a file.
TagMap parse_tags(std::string_view text, const std::string& name, size_t rows, size_t classes = 0,
                  bool exported = false);

class TagStore {
public:
    /// `path` "" keeps the tags in memory only. An existing file is read (Error naming it and the
    /// field when it is not such a file, names a row outside [0, rows) or a malformed tag); a
    /// missing one starts empty and is created on the first change.
    TagStore(std::string path, size_t rows, size_t classes = 0);

    /// {"tags": {...}, "persisted": bool}
    nlohmann::json get() const;
    /// Replaces the row's tags (persisting them first: on a write error nothing changes, in memory
    /// either, and TagsNotSaved propagates); returns get() after the change.
    nlohmann::json set(const TagUpdate& u);

    /// Whether the tags are kept in a file (every change is written before it is made).
    bool persisted() const { return !path_.empty(); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    size_t rows_, classes_;
    mutable std::mutex mu_;
    TagMap tags_;
    static nlohmann::json to_json(const TagMap& t);
};

}  // namespace camscope::serve

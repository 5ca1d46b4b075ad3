// Image tags of the explorer (tags.hpp).
#include "camscope/serve/tags.hpp"

#include <algorithm>
#include <filesystem>
#include <iterator>

#include "camscope/serve/request.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::serve {

using nlohmann::json;

namespace {

constexpr std::string_view kRelabelPrefix = "relabel:";

// Why `tags` is not a valid tag list ("" if it is); the cleaned list (duplicates dropped) in `out`.
// `classes` > 0: a chosen label ("relabel:<k>") must name a class below it.
std::string check_tags(const json& tags, std::vector<std::string>& out, size_t classes) {
    if (!tags.is_array()) return "must be a list of strings";
    if (tags.size() > kMaxTagsPerRow) return format("%zu tags (at most %zu per image)", tags.size(), kMaxTagsPerRow);
    out.clear();
    int chosen = -1;
    for (size_t i = 0; i < tags.size(); ++i) {
        if (!tags[i].is_string()) return format("[%zu] must be a string", i);
        const auto& t = tags[i].get_ref<const std::string&>();
        if (t.empty() || t.size() > kMaxTagLength)
            return format("[%zu] has %zu characters (1 to %zu)", i, t.size(), kMaxTagLength);
        if (t.compare(0, kRelabelPrefix.size(), kRelabelPrefix) == 0) {
            const int k = relabel_class(t);
            if (k < 0) return format("[%zu] must be \"relabel:<class index>\" (decimal digits, no leading zero)", i);
            if (classes > 0 && static_cast<size_t>(k) >= classes)
                return format("[%zu] chooses class %d; the classes are 0..%zu", i, k, classes - 1);
            if (chosen >= 0 && chosen != k)
                return format("[%zu] chooses label %d, another tag already %d (one chosen label per image)", i, k, chosen);
            chosen = k;
        } else {
            for (const char ch : t)
                if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == ' ' ||
                      ch == '_' || ch == '-'))
                    return format("[%zu] holds a character other than letters, digits, space, '_' and '-' (or is not "
                                  "\"relabel:<class index>\")",
                                  i);
        }
        if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
    return "";
}

// A row number as the file and the API write it: decimal digits, no sign or leading zero.
bool parse_row(const std::string& s, size_t rows, size_t& row) {
    unsigned long long v = 0;
    bool overflow = false;
    if (!parse_unsigned(s, v, overflow) || overflow || (s.size() > 1 && s[0] == '0') || v >= rows) return false;
    row = static_cast<size_t>(v);
    return true;
}

}  // namespace

int relabel_class(const std::string& tag) {
    if (tag.size() <= kRelabelPrefix.size() || tag.compare(0, kRelabelPrefix.size(), kRelabelPrefix) != 0) return -1;
    const std::string digits = tag.substr(kRelabelPrefix.size());
    unsigned long long v = 0;
    bool overflow = false;
    if (digits.size() > 9 || !parse_unsigned(digits, v, overflow) || overflow || (digits.size() > 1 && digits[0] == '0'))
        return -1;
    return static_cast<int>(v);
}

int chosen_label(const std::vector<std::string>& tags) {
    for (const auto& t : tags)
        if (const int k = relabel_class(t); k >= 0) return k;
    return -1;
}

std::string relabel_tag(int k) { return std::string(kRelabelPrefix) + std::to_string(k); }

TagUpdate parse_tag_update(std::string_view body, size_t rows, size_t classes) {
    if (body.size() > kMaxTagsBody) throw RequestError(400, format("the body has %zu bytes (at most %zu)", body.size(), kMaxTagsBody));
    const json j = json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw RequestError(400, "the body must be a JSON object {\"row\": r, \"tags\": [\"relabel\", ...]}");
    TagUpdate u;
    if (!j.contains("row")) throw RequestError(400, "'row' missing (expected {\"row\": r, \"tags\": [...]})");
    const json& r = j["row"];
    if (!r.is_number_unsigned() || r.get<std::uint64_t>() >= rows)
        throw RequestError(400, format("'row' must be an image row in [0, %zu), got ", rows) + r.dump().substr(0, 40));
    u.row = static_cast<size_t>(r.get<std::uint64_t>());
    if (!j.contains("tags")) throw RequestError(400, "'tags' missing (expected {\"row\": r, \"tags\": [...]})");
    const std::string why = check_tags(j["tags"], u.tags, classes);
    if (!why.empty()) throw RequestError(400, "'tags'" + std::string(why[0] == '[' ? "" : ": ") + why);
    for (const auto& [key, v] : j.items())
        if (key != "row" && key != "tags") throw RequestError(400, "unknown field '" + key.substr(0, 40) + "' (expected row and tags)");
    return u;
}

TagMap read_tags_file(const std::string& path, size_t rows, size_t classes, bool exported) {
    const auto bytes = read_file(path, kMaxTagsFile);  // a regular file, bounded: not a FIFO nor /dev/zero
    return parse_tags(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path, rows, classes,
                      exported);
}

TagMap parse_tags(std::string_view text, const std::string& path, size_t rows, size_t classes, bool exported) {
    const json j = json::parse(text.begin(), text.end(), nullptr, false);
    TagMap out;
    if (exported && j.is_object() && !j.contains("tags") && j.contains("images") && j["images"].is_array()) {
        const json& images = j["images"];
        for (size_t i = 0; i < images.size(); ++i) {
            const json& it = images[i];
            const std::string at = format("images[%zu]", i);
            if (!it.is_object() || !it.contains("row") || !it.contains("tags"))
                throw Error(where(path, at + ": expected an object with \"row\" and \"tags\" (the explorer's tagged JSON)"));
            const json& r = it["row"];
            if (!r.is_number_unsigned() || r.get<std::uint64_t>() >= rows)
                throw Error(where(path, at + format(".row: expected an image row in [0, %zu), got ", rows) +
                                            r.dump().substr(0, 40) + " (tags of another analysis?)"));
            const size_t row = static_cast<size_t>(r.get<std::uint64_t>());
            if (out.count(row)) throw Error(where(path, at + format(".row: row %zu appears twice", row)));
            std::vector<std::string> t;
            const std::string why = check_tags(it["tags"], t, classes);
            if (!why.empty()) throw Error(where(path, at + ".tags" + (why[0] == '[' ? "" : ": ") + why));
            out[row] = std::move(t);
        }
        for (auto it = out.begin(); it != out.end();) it = it->second.empty() ? out.erase(it) : std::next(it);
        return out;
    }
    if (j.is_discarded() || !j.is_object() || !j.contains("tags") || !j["tags"].is_object())
        throw Error(where(path, std::string("not a tags file (expected a JSON object {\"tags\": {\"<row>\": [\"tag\", ...]}}") +
                                    (exported ? ", or the explorer's tagged JSON {\"images\": [{\"row\": r, \"tags\": [...]}, ...]})" : ")")));
    for (const auto& [key, v] : j["tags"].items()) {
        size_t row = 0;
        if (!parse_row(key, rows, row))
            throw Error(where(path, format("tags: \"%s\" is not an image row in [0, %zu) (tags of another analysis?)",
                                           key.substr(0, 40).c_str(), rows)));
        std::vector<std::string> t;
        const std::string why = check_tags(v, t, classes);
        if (!why.empty()) throw Error(where(path, "tags[\"" + key + "\"]" + (why[0] == '[' ? "" : ": ") + why));
        if (!t.empty()) out[row] = std::move(t);
    }
    return out;
}

TagStore::TagStore(std::string path, size_t rows, size_t classes)
    : path_(std::move(path)), rows_(rows), classes_(classes) {
    std::error_code ec;
    if (path_.empty() || !std::filesystem::exists(path_, ec)) return;
    tags_ = read_tags_file(path_, rows_, classes_);
}

json TagStore::to_json(const TagMap& t) {
    json tags = json::object();
    for (const auto& [row, list] : t) tags[std::to_string(row)] = list;
    return tags;
}

json TagStore::get() const {
    std::lock_guard lock(mu_);
    return {{"tags", to_json(tags_)}, {"persisted", persisted()}};
}

json TagStore::set(const TagUpdate& u) {
    if (u.row >= rows_) throw RequestError(400, format("'row' must be an image row in [0, %zu)", rows_));
    if (const int k = chosen_label(u.tags); classes_ > 0 && k >= 0 && static_cast<size_t>(k) >= classes_)
        throw RequestError(400, format("'tags': chooses class %d; the classes are 0..%zu", k, classes_ - 1));
    std::lock_guard lock(mu_);  // held over the write: the file always holds the latest change
    auto next = tags_;
    if (u.tags.empty()) next.erase(u.row);
    else next[u.row] = u.tags;
    if (!path_.empty()) {
        try {
            write_file_atomic(path_, json{{"tags", to_json(next)}}.dump(1) + "\n");
        } catch (const Error& e) {
            // The cause is the message's last part ("...: Permission denied"); the answer names
            // the file by its name only.
            const std::string msg = e.what();
            const size_t colon = msg.rfind(": ");
            const std::string cause = colon == std::string::npos ? std::string("cannot write it") : msg.substr(colon + 2);
            throw TagsNotSaved(where(path_, "the tag change was not saved (" + msg + "); the tags are as before"),
                               "the tag change was not saved: the tags file " +
                                   std::filesystem::path(path_).filename().string() + " cannot be written (" + cause +
                                   "); the tags are as before");
        }
    }
    tags_ = std::move(next);
    return {{"tags", to_json(tags_)}, {"persisted", persisted()}};
}

}  // namespace camscope::serve

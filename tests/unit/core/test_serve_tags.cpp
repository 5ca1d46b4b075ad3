// The explorer's image tags (serve/tags.hpp): the POST body parser (untrusted bytes) and the store
// persisted atomically in a JSON file, read back by a new store (a server restart).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "camscope/serve/request.hpp"
#include "camscope/serve/tags.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
using namespace camscope;
using namespace camscope::serve;
using nlohmann::json;
using support::slurp;
using support::TempDir;

namespace {

std::string refusal(const std::string& body, size_t rows = 10) {
    try {
        parse_tag_update(body, rows);
    } catch (const RequestError& e) {
        EXPECT_EQ(e.status(), 400);
        return e.what();
    }
    return "";
}

std::string tag(const char* prefix, int i) {
    std::string s = prefix;  // not prefix + std::to_string(i): GCC 12's -Wrestrict false positive
    s += std::to_string(i);
    return s;
}

}  // namespace

TEST(ServeTags, BodiesAreParsedAndCheckedFieldByField) {
    const TagUpdate u = parse_tag_update(R"({"row": 9, "tags": ["relabel", "Ambiguous case_2", "relabel", "x-y"]})", 10);
    EXPECT_EQ(u.row, 9u);
    EXPECT_EQ(u.tags, (std::vector<std::string>{"relabel", "Ambiguous case_2", "x-y"}));  // duplicates dropped
    EXPECT_TRUE(parse_tag_update(R"({"tags": [], "row": 0})", 10).tags.empty());
    EXPECT_NE(refusal(""), "");
    EXPECT_NE(refusal("null").find("JSON object"), std::string::npos);
    EXPECT_NE(refusal(R"({"row": 10, "tags": []})").find("[0, 10), got 10"), std::string::npos);
    EXPECT_NE(refusal(R"({"row": 1e3, "tags": []})").find("[0, 10)"), std::string::npos);
    EXPECT_NE(refusal(R"({"row": 18446744073709551616, "tags": []})").find("[0, 10)"), std::string::npos);
    EXPECT_NE(refusal(R"({"row": 1, "tags": {"a": 1}})").find("list of strings"), std::string::npos);
    EXPECT_NE(refusal(R"({"row": 1, "tags": ["ok", "é"]})").find("'tags'[1] holds a character"), std::string::npos);
    EXPECT_NE(refusal(R"({"row": 1, "tags": ["a\u0000b"]})").find("character"), std::string::npos);
    EXPECT_NE(refusal(R"({"row": 1, "tags": ["<script>"]})").find("character"), std::string::npos);
    EXPECT_EQ(refusal(R"({"row": 1, "tags": [")" + std::string(40, 'a') + R"("]})"), "");
    EXPECT_NE(refusal(R"({"row": 1, "tags": [")" + std::string(41, 'a') + R"("]})").find("41 characters"), std::string::npos);
    json sixteen = {{"row", 1}, {"tags", json::array()}};
    for (int i = 0; i < 16; ++i) sixteen["tags"].push_back(tag("t", 100 + i));
    EXPECT_EQ(refusal(sixteen.dump()), "");
    sixteen["tags"].push_back("one-more");
    EXPECT_NE(refusal(sixteen.dump()).find("17 tags (at most 16"), std::string::npos);
    EXPECT_NE(refusal(R"({"row": 1, "tags": [], "note": "x"})").find("unknown field 'note'"), std::string::npos);
    EXPECT_NE(refusal(std::string(70000, ' ')).find("70000 bytes"), std::string::npos);
    EXPECT_NE(refusal(std::string(100, '[')), "");
}

TEST(ServeTags, AChosenLabelIsOneRelabelColonClassTagPerImage) {
    // "relabel:<k>": the label a reviewer chose (`camscope rescore` applies it); ':' in no other tag.
    const TagUpdate u = parse_tag_update(R"({"row": 2, "tags": ["relabel", "relabel:7", "relabel:7"]})", 10, 10);
    EXPECT_EQ(u.tags, (std::vector<std::string>{"relabel", "relabel:7"}));
    EXPECT_EQ(chosen_label(u.tags), 7);
    EXPECT_EQ(chosen_label({"relabel", "ok"}), -1);
    EXPECT_EQ(relabel_tag(12), "relabel:12");
    EXPECT_EQ(relabel_class("relabel:0"), 0);
    for (const char* bad : {"relabel:", "relabel:-1", "relabel:01", "relabel:1x", "relabel: 1", "relabel:1234567890", "relabel"})
        EXPECT_EQ(relabel_class(bad), -1) << bad;
    auto refused = [](const std::string& body, size_t classes) {
        try {
            parse_tag_update(body, 10, classes);
        } catch (const RequestError& e) {
            EXPECT_EQ(e.status(), 400);
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_NE(refused(R"({"row": 1, "tags": ["relabel:10"]})", 10).find("'tags'[0] chooses class 10; the classes are 0..9"),
              std::string::npos);
    EXPECT_EQ(refused(R"({"row": 1, "tags": ["relabel:10"]})", 0), "");  // no class count given: not checked
    EXPECT_NE(refused(R"({"row": 1, "tags": ["relabel:1", "relabel:2"]})", 10).find("one chosen label per image"),
              std::string::npos);
    for (const char* bad : {R"(["relabel:01"])", R"(["relabel:"])", R"(["relabel:x"])"})
        EXPECT_NE(refused(std::string(R"({"row": 1, "tags": )") + bad + "}", 10).find("relabel:<class index>"),
                  std::string::npos)
            << bad;
    EXPECT_NE(refused(R"({"row": 1, "tags": ["ok:1"]})", 10).find("holds a character"), std::string::npos);

    // A file: read back by the store and by read_tags_file; an earlier version's file reads the same.
    TempDir dir;
    const fs::path file = dir.path() / "tags.json";
    {
        TagStore s(file.string(), 10, 10);
        s.set({3, {"relabel", "relabel:4"}});
        EXPECT_THROW(s.set({3, {"relabel:12"}}), RequestError);
    }
    EXPECT_EQ(read_tags_file(file.string(), 10, 10), (TagMap{{3, {"relabel", "relabel:4"}}}));
    write_file_atomic(file.string(), std::string(R"({"tags": {"5": ["relabel", "ok"]}})"));
    EXPECT_EQ(read_tags_file(file.string(), 10, 10), (TagMap{{5, {"relabel", "ok"}}}));
    write_file_atomic(file.string(), std::string(R"({"tags": {"5": ["relabel:10"]}})"));
    try {
        read_tags_file(file.string(), 10, 10);
        ADD_FAILURE() << "a chosen class outside 0..9 was read";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("tags[\"5\"][0] chooses class 10"), std::string::npos) << e.what();
    }
}

TEST(ServeTags, StorePersistsAtomicallyAndANewStoreReadsItBack) {
    TempDir dir;
    const fs::path file = dir.path() / "tags.json";
    {
        TagStore s(file.string(), 100);
        EXPECT_EQ(s.get(), json::parse(R"({"tags": {}, "persisted": true})"));
        EXPECT_FALSE(fs::exists(file));  // created on the first change
        s.set({42, {"relabel"}});
        s.set({7, {"ok", "ambiguous"}});
        EXPECT_EQ(json::parse(slurp(file)), json::parse(R"({"tags": {"42": ["relabel"], "7": ["ok", "ambiguous"]}})"));
        const json after = s.set({42, {}});  // [] removes the row
        EXPECT_EQ(after, json::parse(R"({"tags": {"7": ["ok", "ambiguous"]}, "persisted": true})"));
        EXPECT_EQ(json::parse(slurp(file)), json::parse(R"({"tags": {"7": ["ok", "ambiguous"]}})"));
        EXPECT_THROW(s.set({100, {"x"}}), RequestError);
    }
    // Only the file is left (no temporary names), and a new store (a restarted server) reads it.
    size_t entries = 0;
    for (const auto& e : fs::directory_iterator(dir.path())) {
        ++entries;
        EXPECT_EQ(e.path().filename(), "tags.json");
    }
    EXPECT_EQ(entries, 1u);
    TagStore again(file.string(), 100);
    EXPECT_EQ(again.get()["tags"], json::parse(R"({"7": ["ok", "ambiguous"]})"));
    // In memory only.
    TagStore mem("", 5);
    EXPECT_EQ(mem.set({4, {"ok"}}), json::parse(R"({"tags": {"4": ["ok"]}, "persisted": false})"));
}

TEST(ServeTags, ConcurrentUpdatesAllLand) {
    TempDir dir;
    const fs::path file = dir.path() / "tags.json";
    {
        TagStore s(file.string(), 64);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&s, t] {
                for (int i = 0; i < 16; ++i) s.set({size_t(t * 16 + i), {tag("t", t)}});
            });
        for (auto& th : threads) th.join();
        EXPECT_EQ(s.get()["tags"].size(), 64u);
    }
    EXPECT_EQ(TagStore(file.string(), 64).get()["tags"].size(), 64u);
}

TEST(ServeTags, MalformedFilesAreRefusedNamingTheFileAndTheField) {
    TempDir dir;
    const std::string file = (dir.path() / "tags.json").string();
    const std::pair<std::string, std::string> cases[] = {
        {"not json", "not a tags file"},
        {R"({"rows": {}})", "not a tags file"},
        {R"({"tags": []})", "not a tags file"},
        {R"({"tags": {"10": ["ok"]}})", "tags: \"10\" is not an image row in [0, 10)"},
        {R"({"tags": {"01": ["ok"]}})", "tags: \"01\" is not an image row"},
        {R"({"tags": {"-1": ["ok"]}})", "tags: \"-1\" is not an image row"},
        {R"({"tags": {"3": "ok"}})", "tags[\"3\"]: must be a list of strings"},
        {R"({"tags": {"3": ["a/b"]}})", "tags[\"3\"][0] holds a character"},
    };
    for (const auto& [text, why] : cases) {
        write_file_atomic(file, text);
        try {
            TagStore s(file, 10);
            ADD_FAILURE() << text << " was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(file + ": " + why), std::string::npos) << text << ": " << e.what();
        }
    }
}

/// The Error of opening a store on `file` ("" if it opens).
std::string store_error(const std::string& file) {
    try {
        TagStore s(file, 10);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(ServeTags, SpecialFilesAreRefusedAtOnceNamingTheFile) {
    // A link to /dev/zero used to be read until memory ran out, a FIFO blocked the server's start.
    TempDir dir;
    const std::string zero = (dir.path() / "zero.json").string(), fifo = (dir.path() / "fifo.json").string(),
                      big = (dir.path() / "big.json").string(), folder = (dir.path() / "folder.json").string();
    fs::create_symlink("/dev/zero", zero);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);  // nobody writes it: opening it to read would wait
    fs::create_directories(folder);
    std::string msg = store_error(zero);
    EXPECT_NE(msg.find(zero + ": is a character device, expected a regular file"), std::string::npos) << msg;
    msg = store_error(fifo);
    EXPECT_NE(msg.find(fifo + ": is a FIFO (named pipe), expected a regular file"), std::string::npos) << msg;
    msg = store_error(folder);
    EXPECT_NE(msg.find(folder + ": is a folder"), std::string::npos) << msg;
    // Larger than the cap (a sparse file: nothing is written or read).
    { std::ofstream(big) << "{}"; }
    fs::resize_file(big, kMaxTagsFile + 1);
    msg = store_error(big);
    EXPECT_NE(msg.find(big + ": is " + std::to_string(kMaxTagsFile + 1) + " bytes, more than the " +
                       std::to_string(kMaxTagsFile) + " bytes"),
              std::string::npos)
        << msg;
    // A link to a regular file is followed.
    const std::string real = (dir.path() / "real.json").string(), link = (dir.path() / "link.json").string();
    write_file_atomic(real, R"({"tags": {"2": ["ok"]}})");
    fs::create_symlink(real, link);
    EXPECT_EQ(TagStore(link, 10).get()["tags"], json::parse(R"({"2": ["ok"]})"));
}

TEST(ServeTags, AChangeTheFileCannotTakeIsNotMadeAndSaysSo) {
    TempDir dir;
    const fs::path sub = dir.path() / "sub", file = sub / "tags.json";
    fs::create_directories(sub);
    TagStore s(file.string(), 10);
    s.set({1, {"ok"}});
    // The folder becomes a file: the next write cannot happen (as a read-only or full disk; this
    // works as root too).
    fs::remove_all(sub);
    { std::ofstream(sub.string()) << "in the way"; }
    try {
        s.set({2, {"relabel"}});
        ADD_FAILURE() << "a change that was not written was accepted";
    } catch (const TagsNotSaved& e) {
        const std::string log = e.what(), answer = e.answer();
        EXPECT_NE(log.find(file.string()), std::string::npos) << log;  // the log names the full path
        EXPECT_NE(answer.find("not saved"), std::string::npos) << answer;
        EXPECT_NE(answer.find("tags.json"), std::string::npos) << answer;
        EXPECT_EQ(answer.find(dir.path().string()), std::string::npos) << answer;  // the answer names no local path
    }
    // Nothing changed in memory either: the store still holds what the file last got.
    EXPECT_EQ(s.get(), json::parse(R"({"tags": {"1": ["ok"]}, "persisted": true})"));
}

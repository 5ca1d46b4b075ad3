#pragma once
// The results folder `camscope serve --results DIR` reads: the --out folder of `camscope analyze`
// (or its explorer/ folder). Torch-free (in camscope_core) and fuzzed (fuzz_results): the server
// trusts nothing in it before this check.
//
//   summary.json        the completion marker: without it the folder is from an interrupted or
//                       failed run and is refused; its "identity" (report/identity.hpp) says which
//                       model file (SHA-256), dataset, input and CAM settings made the report;
//   explorer/data.js    `window.CAMSCOPE_DATA = {...};` (schema in report/explorer.hpp), read by
//                       explorer_from_json (every index checked against the counts it declares,
//                       nesting at most 32 deep); it must agree with summary.json (classes, image
//                       count).
// Every refusal is an Error naming the file and the field ("rows.pred[100]: 99 is not a class
// index ..."). Nothing else is thrown.
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "camscope/report/explorer.hpp"
#include "camscope/report/identity.hpp"

namespace camscope::serve {

struct ResultsFolder {
    std::string summary_path, data_path;
    RunIdentity identity;   // summary.json "identity"
    nlohmann::json data;    // the explorer data as the file has it (the server passes it on)
    ExplorerData explorer;  // and read (explorer_from_json): checked
};

/// Parses and checks the two files' contents (names for the messages).
ResultsFolder parse_results(std::string_view summary_json, std::string_view data_js, const std::string& summary_name,
                            const std::string& data_name);

constexpr std::size_t kMaxSummaryBytes = std::size_t{64} << 20;  // summary.json
constexpr std::size_t kMaxDataJsBytes = std::size_t{1} << 30;    // explorer/data.js (about 100 bytes an image)

/// Reads DIR/summary.json and DIR/explorer/data.js (DIR may also be the explorer/ folder itself):
/// each must be a regular file (a link to one is followed) of at most the size above, else an
/// Error names it and the cap (read_file: a FIFO does not block, /dev/zero is not read).
ResultsFolder read_results_folder(const std::string& dir);

}  // namespace camscope::serve

// camscope._camscope: rescore (an analysis re-scored with reviewed labels: report/rescore.hpp), the
// library's whole command as `camscope rescore` runs it.
#include <string>

#include "camscope/report/rescore.hpp"
#include "common.hpp"

namespace camscope::bindings {

void bind_rescore(py::module_& mod) {
    // Returns (rescored_summary.json's text, the terminal summary, the folder written).
    mod.def(
        "rescore",
        [](const std::string& report, const std::string& tags_path, const std::string& tags_text,
           const std::string& other, const std::string& out) {
            std::string summary, text, folder;
            {
                py::gil_scoped_release release;
                const auto [r, dir] = rescore_and_write({report, tags_path, tags_text, other, out});
                summary = rescored_summary_json(r, tags_path);
                text = rescore_text(r, dir);
                folder = dir;
            }
            return py::make_tuple(summary, text, folder);
        },
        py::arg("report"), py::arg("tags_path"), py::arg("tags_text"), py::arg("other"), py::arg("out"));
}

}  // namespace camscope::bindings

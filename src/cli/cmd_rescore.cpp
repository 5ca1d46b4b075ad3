// camscope rescore: an analysis re-scored with the labels a review chose in the explorer (torch-free).
#include <cstdio>

#include "camscope/report/rescore.hpp"
#include "camscope/util/error.hpp"
#include "common.hpp"

namespace camscope::cli {

void register_rescore(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "rescore",
        "Re-score an analysis with reviewed labels: the explorer's tags \"relabel:<class>\" (a label chosen in the "
        "image view) applied; the corrected top-1 accuracy, per-class table and confusion matrix beside the "
        "originals, the images whose label changed, how many of the likely label errors the review confirmed; "
        "with a second analysis of the same images (--other), whether the two models' ranking changes");
    struct Args {
        std::string report, tags, other, out;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("report", a->report, "the analysis (its report folder holding store/, or a store)")->required();
    cmd->add_option("--tags,-t", a->tags,
                    "the tags file (`serve --tags FILE`, or tags.json of `serve --results`): {\"tags\": {\"<row>\": "
                    "[\"relabel\", \"relabel:<class index>\", \"ok\", ...]}}, or the offline explorer's \"tagged JSON\" "
                    "download; a \"relabel\" without a chosen label is counted, not applied")
        ->required();
    cmd->add_option("--other,-b", a->other,
                    "a second analysis of the same images (model B): its accuracy under the reviewed labels and "
                    "whether the ranking of A and B changes");
    cmd->add_option("--out,-o", a->out,
                    "folder for rescored_summary.json, per_class_rescored.csv, confusion_matrix_rescored.csv and "
                    "changed_images.csv (default: <report>/rescored; the report's own files are not changed)");
    cmd->callback([a] {
        const auto [r, out] = rescore_and_write({a->report, a->tags, "", a->other, a->out});
        fputs(rescore_text(r, out).c_str(), stdout);
    });
}

}  // namespace camscope::cli

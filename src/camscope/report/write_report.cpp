// write_report: the order of the files and the completion marker. Each file goes through
// write_file_atomic (temp name + rename); summary.json is removed first and written last, so an
// interrupted or failed run leaves no summary.json and never looks complete.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "camscope/report/writers.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/progress.hpp"

namespace camscope {

using report_detail::WrittenFile;

namespace {

class ReportDir {
public:
    explicit ReportDir(std::string dir) : dir_(std::move(dir)) {}

    void text(const std::string& name, const std::string& description, const std::string& content) {
        write_file_atomic(path(name), content);
        files_.push_back({name, description, {}});
    }
    void png(const std::string& name, const std::string& description, std::vector<std::uint8_t> bytes) {
        write_file_atomic(path(name), bytes);
        files_.push_back({name, description, std::move(bytes)});
    }
    /// Files a writer wrote itself (e.g. explorer/): listed in index.html and summary.json.
    void listed(std::vector<WrittenFile> written) {
        for (auto& f : written) files_.push_back(std::move(f));
    }
    std::string path(const std::string& name) const { return (std::filesystem::path(dir_) / name).string(); }
    const std::vector<WrittenFile>& files() const { return files_; }

private:
    std::string dir_;
    std::vector<WrittenFile> files_;
};

}  // namespace

void write_report(const Report& r, const AnalysisInput& in, const AnalysisOptions& opt, const std::string& out_dir) {
    namespace rd = report_detail;
    make_dirs(out_dir);
    ReportDir d(out_dir);
    // The completion marker of an older run must not survive a failure of this one.
    const std::string marker = d.path("summary.json");
    if (std::remove(marker.c_str()) != 0 && errno != ENOENT)
        throw Error(where(marker, std::string("cannot remove the previous summary: ") + std::strerror(errno)));

    d.png("confusion_matrix_full.png",
          opt.row_normalised_matrix ? "confusion matrix, rows normalised to shares of the true class"
                                    : "confusion matrix (counts), true class in rows",
          rd::confusion_png(r, opt));
    d.text("confusion_matrix.csv", "confusion matrix counts, true class in rows, predicted in columns",
           rd::confusion_csv(r));
    d.text("per_class_accuracy.csv", "per class: support, accuracy (recall), precision, F1, mean confidence, most confused with",
           rd::per_class_csv(r));
    d.text("per_class_accuracy_interactive.html", "sortable per-class table and chart (self-contained)",
           rd::interactive_html(r));
    d.text("most_confused_pairs.csv", "confused pairs: kind=directed (a true, b predicted) and kind=symmetric (both directions)",
           rd::pairs_csv(r));
    d.png("top_confused_pairs.png", "the most frequent confusions, true -> predicted", rd::top_pairs_png(r, opt));
    d.png("reliability_diagram.png", "calibration: accuracy vs confidence per bin", rd::reliability_png(r));

    make_dirs(d.path("worst_predictions"));
    {
        Progress bar("class galleries", r.galleries.size(), opt.progress);
        for (const auto& g : r.galleries) {
            d.png(g.file, "worst and best predictions of '" + r.class_names[g.cls] + "' with CAMs",
                  rd::gallery_png(r, in, g));
            bar.advance();
        }
        bar.finish();
    }
    {
        Progress bar("confused pairs", r.pair_figures.size(), opt.progress);
        for (const auto& f : r.pair_figures) {
            d.png(f.file,
                  "'" + r.class_names[f.a] + "' predicted as '" + r.class_names[f.b] +
                      "': image, true-class CAM, predicted-class CAM, difference",
                  rd::pair_png(r, in, f));
            bar.advance();
        }
        bar.finish();
    }
    d.png("likely_label_errors.png", "images whose label the model finds implausible, with CAMs",
          rd::label_issues_png(r, in, opt));
    if (r.faithfulness) {
        d.text("faithfulness.csv", "CAM faithfulness per method and group (Average Drop, Increase in Confidence, "
               "Deletion/Insertion AUC, ROAD)", faith::summary_csv(*r.faithfulness));
        d.png("faithfulness.png", "CAM faithfulness per method (" + faith::headline(*r.faithfulness) + ")",
              faith::summary_png(*r.faithfulness));
    }
    d.text("analysis_summary.txt", "the analysis in prose", rd::summary_text(r, opt));
    d.text("recommendations.txt", "what to do next, each quoting the figures behind it", rd::recommendations_text(r));
    d.listed(rd::write_explorer(r, in, opt, out_dir));
    d.text("index.html", "this page", rd::index_html(r, opt, d.files()));
    write_file_atomic(marker, rd::summary_json(r, opt, d.files()));
}

}  // namespace camscope

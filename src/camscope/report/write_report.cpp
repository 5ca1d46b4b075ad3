// write_report: the order of the files and the completion marker. Each file goes through
// write_file_atomic (temp name + rename); summary.json is removed first and written last, so an
// interrupted or failed run leaves no summary.json and never looks complete.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "camscope/report/writers.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/parallel.hpp"
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

/// Tells opt.on_stage how long each stage took (the time since the previous mark).
class StageClock {
public:
    explicit StageClock(const AnalysisOptions& opt) : opt_(opt) {}
    void mark(const std::string& stage) {
        const auto now = std::chrono::steady_clock::now();
        if (opt_.on_stage) opt_.on_stage(stage, std::chrono::duration<double>(now - last_).count());
        last_ = now;
    }

private:
    const AnalysisOptions& opt_;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

/// Draws item i's PNG for i < n on every core (opt.threads); returns them in item order.
template <class F>
std::vector<std::vector<std::uint8_t>> draw_all(std::size_t n, const AnalysisOptions& opt, Progress& bar, F draw) {
    std::vector<std::vector<std::uint8_t>> out(n);
    parallel_for(n, worker_threads(opt.threads), [&](std::size_t i) {
        out[i] = draw(i);
        bar.advance();
    });
    return out;
}

}  // namespace

void write_report(const Report& r, const AnalysisInput& in, const AnalysisOptions& opt, const std::string& out_dir) {
    namespace rd = report_detail;
    make_dirs(out_dir);
    ReportDir d(out_dir);
    StageClock clock(opt);
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
    clock.mark("figures");

    make_dirs(d.path("worst_predictions"));
    {
        Progress bar("class galleries", r.galleries.size(), opt.progress);
        auto pngs = draw_all(r.galleries.size(), opt, bar, [&](size_t i) { return rd::gallery_png(r, in, r.galleries[i]); });
        for (size_t i = 0; i < pngs.size(); ++i) {
            const auto& g = r.galleries[i];
            d.png(g.file, "worst and best predictions of '" + r.class_names[g.cls] + "' with CAMs", std::move(pngs[i]));
        }
        bar.finish();
    }
    clock.mark("galleries");
    {
        Progress bar("confused pairs", r.pair_figures.size(), opt.progress);
        auto pngs = draw_all(r.pair_figures.size(), opt, bar, [&](size_t i) { return rd::pair_png(r, in, r.pair_figures[i]); });
        for (size_t i = 0; i < pngs.size(); ++i) {
            const auto& f = r.pair_figures[i];
            d.png(f.file,
                  "'" + r.class_names[f.a] + "' predicted as '" + r.class_names[f.b] +
                      "': image, true-class CAM, predicted-class CAM, difference",
                  std::move(pngs[i]));
        }
        bar.finish();
    }
    d.png("likely_label_errors.png", "images whose label the model finds implausible, with CAMs",
          rd::label_issues_png(r, in, opt));
    clock.mark("pair figures");
    if (r.faithfulness) {
        d.text("faithfulness.csv", "CAM faithfulness per method and group (Average Drop, Increase in Confidence, "
               "Deletion/Insertion AUC, ROAD)", faith::summary_csv(*r.faithfulness));
        d.png("faithfulness.png", "CAM faithfulness per method (" + faith::headline(*r.faithfulness) + ")",
              faith::summary_png(*r.faithfulness));
    }
    d.text("analysis_summary.txt", "the analysis in prose", rd::summary_text(r, opt));
    d.text("recommendations.txt", "what to do next, each quoting the figures behind it", rd::recommendations_text(r));
    clock.mark("text");
    d.listed(rd::write_explorer(r, in, opt, out_dir));
    clock.mark("explorer");
    d.text("index.html", "this page", rd::index_html(r, opt, d.files()));
    write_file_atomic(marker, rd::summary_json(r, opt, d.files()));
    clock.mark("index");
}

}  // namespace camscope

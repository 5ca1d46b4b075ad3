// write_report: the order of the files, the completion marker and the swap. The report is built
// in a hidden staging folder beside the destination (StagedDir, util/atomic_file.hpp), each file
// through write_file_atomic, summary.json last; the finished folder replaces the destination in
// one rename. A failed or interrupted run leaves the previous report as it was.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "camscope/report/figures.hpp"
#include "camscope/report/write_flips.hpp"
#include "camscope/report/writers.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/parallel.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

using report_detail::WrittenFile;
namespace fs = std::filesystem;

namespace {

// Test hook (tests/cli): CAMSCOPE_TEST_SIGNAL_AFTER="<signal>:<file>" sends the process that signal
// right after the report file <file> is written, so a test can interrupt a run at a known point
// (e.g. during the class galleries) without racing it.
void test_signal_after(const std::string& name) {
    static const char* hook = std::getenv("CAMSCOPE_TEST_SIGNAL_AFTER");
    if (!hook) return;
    const char* colon = std::strchr(hook, ':');
    if (!colon || name != colon + 1) return;
    ::kill(::getpid(), std::atoi(hook));
    for (int i = 0; i < 100; ++i) ::usleep(100000);  // the signal ends the process meanwhile
}

class ReportDir {
public:
    explicit ReportDir(std::string dir) : dir_(std::move(dir)) {}

    void text(const std::string& name, const std::string& description, const std::string& content) {
        write_file_atomic(path(name), content);
        files_.push_back({name, description, {}});
        test_signal_after(name);
    }
    void png(const std::string& name, const std::string& description, std::vector<std::uint8_t> bytes) {
        write_file_atomic(path(name), bytes);
        files_.push_back({name, description, std::move(bytes)});
        test_signal_after(name);
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
    explicit StageClock(const WriteOptions& opt) : opt_(opt) {}
    void mark(const std::string& stage) {
        const auto now = std::chrono::steady_clock::now();
        if (opt_.on_stage) opt_.on_stage(stage, std::chrono::duration<double>(now - last_).count());
        last_ = now;
    }

private:
    const WriteOptions& opt_;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

/// Draws item i's PNG for i < n on every core (opt.threads); returns them in item order.
template <class F>
std::vector<std::vector<std::uint8_t>> draw_all(std::size_t n, const WriteOptions& opt, Progress& bar, F draw) {
    std::vector<std::vector<std::uint8_t>> out(n);
    parallel_for(n, worker_threads(opt.threads), [&](std::size_t i) {
        out[i] = draw(i);
        bar.advance();
    });
    return out;
}

/// Names write_report puts at the top of a report folder (and earlier versions did).
bool is_report_entry(const std::string& name) {
    static const char* const fixed[] = {"confusion_matrix_full.png", "confusion_matrix_top.png", "confusion_matrix.csv", "per_class_accuracy.csv",
                                        "per_class_accuracy_interactive.html", "most_confused_pairs.csv",
                                        "top_confused_pairs.png", "reliability_diagram.png", "worst_predictions",
                                        "likely_label_errors.png", "faithfulness.csv", "faithfulness.png", "sanity.csv",
                                        "analysis_summary.txt", "recommendations.txt", "explorer", "index.html",
                                        "summary.json", "store", "flip_test",
                                        "failure_modes"};
    for (const char* f : fixed)
        if (name == f) return true;
    if (name.rfind("confused_pair_", 0) == 0 && name.size() > 18 && name.compare(name.size() - 4, 4, ".png") == 0)
        return true;
    return parse_temp_name(name);
}

/// summary.json written by camscope (the completion marker of a report).
bool has_camscope_summary(const fs::path& dir) {
    std::ifstream f(dir / "summary.json");
    if (!f) return false;
    const auto j = nlohmann::json::parse(f, nullptr, false);
    return j.is_object() && j.value("generator", "") == "camscope";
}

}  // namespace

void check_report_destination(const std::string& out_dir) {
    if (out_dir.empty()) throw UsageError("the report folder (--out) is an empty path");
    std::error_code ec;
    fs::path d = fs::absolute(out_dir, ec).lexically_normal();
    if (!ec && !d.has_filename()) d = d.parent_path();
    if (ec || !d.has_filename() || d == d.root_path())
        throw UsageError("--out " + out_dir + ": names no folder a report could replace (the root folder?)");
    const auto st = fs::status(d, ec);
    if (fs::exists(st)) {
        if (!fs::is_directory(st)) throw Error(where(out_dir, "exists and is not a folder"));
        if (::access(d.c_str(), W_OK | X_OK) != 0)
            throw Error(where(out_dir, std::string("the folder is not writable: ") + std::strerror(errno)));
        std::vector<std::string> foreign;
        bool empty = true;
        for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
            empty = false;
            const std::string name = it->path().filename().string();
            if (!is_report_entry(name)) foreign.push_back(name);
        }
        if (ec) throw Error(where(out_dir, "cannot list the folder: " + ec.message()));
        if (!empty && !foreign.empty() && !has_camscope_summary(d) && !fs::exists(d / "explorer" / "data.js"))
            throw Error(where(out_dir, "exists and holds files that are not a camscope report (" + foreign[0] +
                                           (foreign.size() > 1 ? format(" and %zu more", foreign.size() - 1) : "") +
                                           "); the report replaces its folder as a whole: choose a new or empty folder"));
    }
    // Writability of the parent, where the report is built: create and remove the staging folder
    // (this also removes those of killed runs).
    StagedDir probe(d.string());
}

void write_report(const Report& r, const AnalysisInput& in, const WriteOptions& opt, const std::string& out_dir) {
    namespace rd = report_detail;
    check_report_destination(out_dir);
    StagedDir stage(out_dir);
    ReportDir d(stage.path());
    StageClock clock(opt);
    const std::string marker = d.path("summary.json");

    d.png("confusion_matrix_full.png",
          opt.row_normalised_matrix ? "confusion matrix, rows normalised to shares of the true class"
                                    : "confusion matrix (counts), true class in rows",
          figures::confusion_png(r, opt));
    if (!r.top_matrix_classes.empty())
        d.png("confusion_matrix_top.png",
              format("the confusion matrix of the %zu classes in the most frequent confusions (of %d)",
                     r.top_matrix_classes.size(), r.num_classes),
              figures::confusion_top_png(r, opt));
    d.text("confusion_matrix.csv", "confusion matrix counts, true class in rows, predicted in columns",
           rd::confusion_csv(r));
    d.text("per_class_accuracy.csv", "per class: support, accuracy (recall), precision, F1, mean confidence, most confused with; "
           "then 95% intervals of accuracy and precision, the CAM centre shares and the blank-map share",
           rd::per_class_csv(r));
    d.text("per_class_accuracy_interactive.html", "sortable per-class table and chart (self-contained)",
           rd::interactive_html(r));
    d.text("most_confused_pairs.csv", "confused pairs: kind=directed (a true, b predicted) and kind=symmetric (both directions), "
           "with the rate's 95% interval",
           rd::pairs_csv(r));
    d.png("top_confused_pairs.png", "the most frequent confusions, true -> predicted", figures::top_pairs_png(r));
    d.png("reliability_diagram.png", "calibration: accuracy vs confidence per bin", figures::reliability_png(r));
    clock.mark("figures");

    make_dirs(d.path("worst_predictions"));
    {
        std::vector<const ClassGallery*> drawn;
        for (const auto& g : r.galleries)
            if (!g.file.empty()) drawn.push_back(&g);
        Progress bar("class galleries", drawn.size(), opt.progress);
        auto pngs = draw_all(drawn.size(), opt, bar, [&](size_t i) { return figures::gallery_png(r, in, *drawn[i]); });
        for (size_t i = 0; i < pngs.size(); ++i) {
            const auto& g = *drawn[i];
            d.png(g.file, "worst and best predictions of '" + r.class_names[g.cls] + "' with CAMs", std::move(pngs[i]));
        }
        bar.finish();
    }
    clock.mark("galleries");
    {
        Progress bar("confused pairs", r.pair_figures.size(), opt.progress);
        auto pngs = draw_all(r.pair_figures.size(), opt, bar, [&](size_t i) { return figures::pair_png(r, in, r.pair_figures[i]); });
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
          figures::label_issues_png(r, in, opt));
    if (r.flips) {  // the flip test: its table and sheets
        make_dirs(d.path("flip_test"));
        d.text("flip_test/flip_test.csv", "the flip test: per tested error the prediction with its evidence removed",
               rd::flips_csv(r));
        for (const auto& sh : r.flips->sheets) d.png(sh.file, sh.title, rd::flip_sheet_png(r, in, sh));
    }
    clock.mark("pair figures");
    if (r.failure_modes && !r.failure_modes->groups.empty()) {  // failure_modes/: one sheet per group
        const auto& groups = r.failure_modes->groups;
        make_dirs(d.path("failure_modes"));
        Progress bar("failure modes", groups.size(), opt.progress);
        auto pngs = draw_all(groups.size(), opt, bar, [&](size_t i) { return figures::failure_group_png(r, in, groups[i]); });
        for (size_t i = 0; i < pngs.size(); ++i)
            d.png(groups[i].file, "failure modes of '" + r.class_names[groups[i].a] + "'" +
                                      (groups[i].kind == "pair" ? " predicted as '" + r.class_names[groups[i].b] + "'" : "") +
                                      ": each mode's most typical errors with both CAMs", std::move(pngs[i]));
        bar.finish();
        clock.mark("failure modes");
    }
    if (r.faithfulness) {
        d.text("faithfulness.csv", "CAM faithfulness per method and group (Average Drop, Increase in Confidence, "
               "Deletion/Insertion AUC, ROAD)", faith::summary_csv(*r.faithfulness));
        d.png("faithfulness.png", "CAM faithfulness per method (" + faith::headline(*r.faithfulness) + ")",
              faith::summary_png(*r.faithfulness));
    }
    if (r.sanity)
        d.text("sanity.csv", "sanity gate of the CAMs: similarity of the maps after randomising the weights above "
               "the layer (cascade) and for a random other class (" + faith::sanity_headline(*r.sanity) + ")",
               faith::sanity_csv(*r.sanity));
    d.text("analysis_summary.txt", "the analysis in prose", rd::summary_text(r, opt));
    d.text("recommendations.txt", "what to do next, each quoting the figures behind it", rd::recommendations_text(r));
    clock.mark("text");
    d.listed(rd::write_explorer(r, in, opt, stage.path()));
    clock.mark("explorer");
    if (opt.extra_files) {
        std::vector<WrittenFile> extra;
        for (auto& [name, description] : opt.extra_files(stage.path())) extra.push_back({name, description, {}});
        d.listed(std::move(extra));
    }
    d.text("index.html", "this page", rd::index_html(r, opt, d.files()));
    write_file_atomic(marker, rd::summary_json(r, opt, d.files()));
    // In place of the old folder; what a user put there (not a report output) is kept.
    stage.commit([](const std::string& name) { return !is_report_entry(name); });
    clock.mark("index");
}

}  // namespace camscope

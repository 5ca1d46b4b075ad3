// The explorer's data model (explorer.hpp) and its offline copy: <report>/explorer/ with the
// embedded web assets, data.js and the overlays the pages show (rendered by the same tiles as
// the report's figures).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "camscope/report/explorer.hpp"
#include "camscope/report/thumbs.hpp"
#include "camscope/report/writers.hpp"
#include "camscope/util/atomic_file.hpp"
#include "camscope/util/error.hpp"
#include "camscope/util/parallel.hpp"
#include "camscope/util/progress.hpp"
#include "camscope/util/sha256.hpp"
#include "camscope/util/strings.hpp"

namespace camscope {

using nlohmann::json;

namespace {

// Probabilities and rates to 4 decimals: data.js stays small (≈ 60 bytes per image) and the
// pages show at most one decimal of a percentage.
double r4(double v) { return std::isfinite(v) ? std::round(v * 1e4) / 1e4 : 0.0; }

std::vector<size_t> row_list(const std::vector<RowRef>& rows) {
    std::vector<size_t> a;
    for (const auto& x : rows) a.push_back(x.row);
    return a;
}

ExplorerCount count_of(const metrics::CamCount& c) { return {c.maps, c.degenerate}; }

// The faithfulness ranking (methods at the analysed layer, best first) and the layer checks, with
// how many of each one's predicted-class maps are degenerate; [] when the check was not run.
std::vector<ExplorerFaithfulness> faithfulness_list(const Report& r) {
    std::vector<ExplorerFaithfulness> out;
    if (!r.faithfulness) return out;
    const faith::Summary& fs = *r.faithfulness;
    const std::string layer = fs.layer.empty() ? r.layer : fs.layer;
    for (const auto& mr : fs.ranking) {
        const faith::GroupRow* g = fs.find(mr.method, "overall");
        ExplorerFaithfulness e;
        e.method = mr.method;
        e.layer = layer;
        if (std::isfinite(mr.mean_rank)) e.mean_rank = mr.mean_rank;
        e.maps = g ? g->n : 0;
        e.degenerate = g ? g->degenerate : 0;
        out.push_back(std::move(e));
    }
    for (const auto& lc : fs.layer_checks) {
        if (lc.layer == layer) {  // already listed with its rank
            bool ranked = false;
            for (const auto& mr : fs.ranking) ranked = ranked || mr.method == lc.method;
            if (ranked) continue;
        }
        out.push_back({lc.method, lc.layer, std::nullopt, lc.n, lc.degenerate});
    }
    return out;
}

// A stable id of the run for the offline tags' localStorage key: the model's SHA-256 and the
// dataset fingerprint (prefixes) when the report records them, else a hash of the provenance.
std::string tags_key(const Report& r) {
    if (r.identity && r.identity->model_sha256.size() >= 16 && r.identity->data_fingerprint.size() >= 16)
        return r.identity->model_sha256.substr(0, 16) + "-" + r.identity->data_fingerprint.substr(0, 16) + "-" +
               r.split;
    return sha256_hex(r.model_path + "\n" + r.dataset_path + "\n" + r.dataset_name + "\n" + r.split + "\n" +
                      std::to_string(r.n) + "\n" + std::to_string(r.num_classes))
        .substr(0, 32);
}

}  // namespace

const WebAsset* find_web_asset(std::string_view name) {
    for (const auto& a : web_assets())
        if (a.name == name) return &a;
    return nullptr;
}

ExplorerData explorer_model(const Report& r, const AnalysisInput& in, int top_k) {
    ExplorerData d;
    d.schema = kExplorerSchema;
    d.run = {{"model_path", r.model_path},     {"model_kind", r.model_kind}, {"dataset_path", r.dataset_path},
             {"dataset_name", r.dataset_name}, {"split", r.split},           {"layer", r.layer},
             {"method", r.method},             {"n", r.n},                   {"num_classes", r.num_classes},
             {"input_size", {r.input_h, r.input_w}}, {"cam_size", {r.fh, r.fw}}};
    d.method = r.method;
    d.layer = r.layer;
    d.overall = report_detail::overall_json(r);
    const auto& cal = r.calibration;
    json bins = json::array();
    for (const auto& b : cal.before.bins)
        bins.push_back({{"lower", b.lower}, {"upper", b.upper}, {"count", b.count},
                        {"confidence", r4(b.confidence)}, {"accuracy", r4(b.accuracy)}});
    d.calibration = {{"ece", cal.before.ece},
                     {"ece_ci", report_detail::ci_json(cal.before.ece_ci)},
                     {"mce", cal.before.mce},
                     {"temperature", cal.temperature},
                     {"temperature_at_bound", cal.bound},  // +1/-1: the largest/smallest T searched
                     {"ece_after", cal.after.ece},
                     {"bins", bins}};
    d.classes = r.class_names;
    for (const auto& c : r.per_class) d.per_class.push_back(report_detail::class_metrics_json(r, c));
    d.confusion.sparse = r.sparse_confusion_json;  // many classes: the non-zero cells only, as summary.json
    for (int t = 0; t < r.num_classes; ++t) {
        if (!d.confusion.sparse) d.confusion.counts.emplace_back();
        for (int p = 0; p < r.num_classes; ++p) {
            if (!d.confusion.sparse)
                d.confusion.counts.back().push_back(r.confusion.at(t, p));
            else if (r.confusion.at(t, p) != 0)
                d.confusion.cells.push_back({t, p, r.confusion.at(t, p)});
        }
    }
    d.confusion.order = r.class_order;
    for (const auto& p : r.directed) {
        d.pairs.push_back({p.a, p.b, p.count, r4(p.rate), std::nullopt});
        if (p.rate_ci.defined()) d.pairs.back().rate_ci = std::array<double, 2>{r4(p.rate_ci.lo), r4(p.rate_ci.hi)};
    }

    // Per image: the report's rows plus the top-k of the softmax the report was built from.
    const int k = std::min(top_k, r.num_classes);
    // flags: bit 1 in Report::high_conf_errors, 2 in low_conf_correct, 4 in label_issue_rows.
    std::vector<int> flag(r.n, 0);
    for (const auto& x : r.high_conf_errors) flag[x.row] |= 1;
    for (const auto& x : r.low_conf_correct) flag[x.row] |= 2;
    for (const auto& x : r.label_issue_rows) flag[x.row] |= 4;
    std::vector<float> score(r.n, std::numeric_limits<float>::quiet_NaN());  // the label-issue ranking's margin
    for (const auto& is : r.label_issues.issues) score[is.row] = is.margin;
    std::vector<int> order(static_cast<size_t>(r.num_classes));
    ExplorerRows& rows = d.rows;
    rows.blank.emplace();
    for (const auto& x : r.rows) {
        rows.index.push_back(x.index);
        rows.label.push_back(x.label);
        rows.pred.push_back(x.pred);
        rows.conf.push_back(r4(x.confidence));
        rows.blank->push_back((x.pred_cam_degenerate ? 1 : 0) | (x.true_cam_degenerate ? 2 : 0));
        rows.p_true.push_back(r4(x.p_true));
        rows.flags.push_back(flag[x.row]);
        rows.lscore.push_back(std::isfinite(score[x.row]) ? std::optional<double>(r4(score[x.row])) : std::nullopt);
        const float cs = x.row < r.centre_share.size() ? r.centre_share[x.row] : std::numeric_limits<float>::quiet_NaN();
        rows.centre.push_back(std::isfinite(cs) ? std::optional<double>(r4(cs)) : std::nullopt);
        const float* p = in.probs.data() + x.row * static_cast<size_t>(r.num_classes);
        std::iota(order.begin(), order.end(), 0);
        // Ties like argmax: the lower class index first.
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          [p](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
        std::vector<int> tc;
        std::vector<double> tp;
        for (int i = 0; i < k; ++i) {
            tc.push_back(order[i]);
            tp.push_back(r4(p[order[i]]));
        }
        rows.top.push_back(std::move(tc));
        rows.top_p.push_back(std::move(tp));
    }
    if (r.failure_modes) {  // the class groups' modes (report/failure_modes.hpp), numbered anew
        const FailureModes& fm = *r.failure_modes;
        std::vector<int> id_of(fm.modes.size(), -1);
        d.failure_modes.emplace();
        for (const auto& g : fm.groups)
            if (g.kind == "class")
                for (int id : g.modes) {
                    const FailureMode& m = fm.modes[id];
                    id_of[id] = static_cast<int>(d.failure_modes->size());
                    d.failure_modes->push_back({id_of[id], g.a, m.cluster + 1, static_cast<long long>(m.rows.size()), m.description});
                }
        rows.mode.emplace();
        for (int id : fm.mode_of_row) rows.mode->push_back(id >= 0 ? id_of[id] : -1);
    }
    if (r.flips) {  // the flip test (report/flips.hpp): each tested error's prediction without its evidence
        const FlipSummary& f = *r.flips;
        d.flips = ExplorerFlips{f.fraction, f.overall.tested, f.overall.distractor, f.overall.missing,
                                f.overall.unstable, flips_headline(f)};
        rows.flip.emplace(rows.size(), -1);
        for (const FlipRow& x : f.rows)
            if (x.row < rows.size()) (*rows.flip)[x.row] = x.after;
    }
    if (r.sanity)  // the sanity gate (faith/sanity.hpp)
        d.sanity = ExplorerSanity{r.sanity->passed(), faith::sanity_headline(*r.sanity), report_detail::sanity_warning(r)};
    const auto all = r.degenerate.pred();
    d.cam_health = count_of(all);
    d.cam_health_warning = report_detail::degenerate_warning(r);
    for (const auto& g : r.galleries) d.galleries.push_back({g.cls, row_list(g.worst), row_list(g.best)});

    if (r.has_superclasses) d.superclasses = ExplorerSuperclasses{r.coarse_names, r.fine_to_coarse};
    d.high_conf = r.params.high_conf;
    d.low_conf = r.params.low_conf;
    for (size_t c = 0; c < r.degenerate.by_pred_class.size(); ++c)
        d.degenerate_by_pred_class.push_back({static_cast<int>(c), count_of(r.degenerate.by_pred_class[c])});
    d.degenerate = count_of(all);
    d.label_issues = row_list(r.label_issue_rows);
    d.high_conf_errors = row_list(r.high_conf_errors);
    d.low_conf_correct = row_list(r.low_conf_correct);
    d.faithfulness = faithfulness_list(r);
    // The offline sheets' names; the server replaces them by its api/thumbs/<k>.png routes.
    d.thumbs = explorer_thumbs(thumb_layout(r.n, r.input_h, r.input_w), "img/thumbs-");
    d.tags_key = tags_key(r);
    return d;
}

ExplorerThumbs explorer_thumbs(const ThumbLayout& l, const std::string& url_prefix) {
    ExplorerThumbs t;
    t.tile_h = l.tile_h;
    t.tile_w = l.tile_w;
    t.cols = l.cols;
    t.per_sheet = static_cast<long long>(l.per_sheet);
    for (size_t k = 0; k < l.sheets(); ++k) t.sheets.push_back(url_prefix + std::to_string(k) + ".png");
    return t;
}

json explorer_data(const Report& r, const AnalysisInput& in, int top_k) { return to_json(explorer_model(r, in, top_k)); }

namespace {
/// A cell's rows in cell_rows' order: most confident first, ties in row order.
void order_cell(std::vector<size_t>& rows, const std::vector<double>& conf) {
    std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return conf[a] > conf[b]; });
}
}  // namespace

std::vector<size_t> cell_rows(const ExplorerRows& rows, int truth, int pred) {
    std::vector<size_t> out;
    for (size_t i = 0; i < rows.size(); ++i)
        if (rows.label[i] == truth && rows.pred[i] == pred) out.push_back(i);
    order_cell(out, rows.conf);
    return out;
}

std::string explorer_data_js(const json& data) {
    // The JSON is valid JavaScript; "</" is escaped in case the file is ever inlined into HTML.
    std::string out = "// camscope explorer data (written by camscope analyze; read by source.js)\n";
    out += kExplorerDataPrefix;
    out += report_detail::script_json(data);
    out += ";\n";
    return out;
}

namespace report_detail {

namespace {
// Offline images: every gallery row, then confusion cells in rounds (the most confident image of
// every cell, then the second, ...) up to these bounds, so a 100-class set stays a few MB.
constexpr size_t kCellImages = 12;
constexpr size_t kMaxImageRows = 2000;
}  // namespace

std::vector<WrittenFile> write_explorer(const Report& r, const AnalysisInput& in, const WriteOptions& opt,
                                        const std::string& out_dir) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(out_dir) / "explorer";
    std::error_code ec;
    fs::remove_all(dir / "img", ec);  // overlays of an older run are never referenced again
    make_dirs((dir / "img").string());

    const ExplorerData model = explorer_model(r, in);
    std::vector<size_t> rows;
    std::vector<char> chosen(r.n, 0);
    auto take = [&](size_t row) {
        if (row < r.n && !chosen[row] && rows.size() < kMaxImageRows) {
            chosen[row] = 1;
            rows.push_back(row);
        }
    };
    for (const auto& g : r.galleries) {
        for (const auto& x : g.worst) take(x.row);
        for (const auto& x : g.best) take(x.row);
    }
    for (const auto& f : r.pair_figures)  // the pair sheets' errors, with their Finer-CAM maps
        for (const auto& x : f.examples) take(x.row);
    std::vector<std::vector<size_t>> cells;
    std::vector<std::pair<long long, std::pair<int, int>>> by_count;
    for (int t = 0; t < r.num_classes; ++t)
        for (int p = 0; p < r.num_classes; ++p)
            if (r.confusion.at(t, p) > 0) by_count.push_back({-r.confusion.at(t, p), {t, p}});
    std::sort(by_count.begin(), by_count.end());
    {
        // cell_rows of every non-empty cell, from one pass over the rows (not one per cell: K² passes).
        const ExplorerRows& mr = model.rows;
        std::unordered_map<long long, std::vector<size_t>> groups;
        for (size_t i = 0; i < mr.size(); ++i)
            groups[static_cast<long long>(mr.label[i]) * r.num_classes + mr.pred[i]].push_back(i);
        for (const auto& [c, tp] : by_count) {
            auto& cell = groups[static_cast<long long>(tp.first) * r.num_classes + tp.second];
            order_cell(cell, mr.conf);
            cells.push_back(std::move(cell));
        }
    }
    for (size_t k = 0; k < kCellImages; ++k)
        for (const auto& cell : cells)
            if (k < cell.size()) take(cell[k]);

    // The drawing threads encode, one writer creates the files beside them (BackgroundWriter).
    BackgroundWriter files;
    json images = json::object();
    json finer_blank = json::array();  // rows whose Finer-CAM map has no positive evidence
    {
        Progress bar("explorer images", rows.size(), opt.progress);
        std::vector<json> entries(rows.size());  // drawn and written on every core, listed in order
        std::vector<char> finer_is_blank(rows.size(), 0);
        parallel_for(rows.size(), worker_threads(opt.threads), [&](size_t i) {
            const size_t row = rows[i];
            const Image img = figures::row_image(in, row);
            const std::string stem = "img/" + std::to_string(row);
            json e;
            if (!img.empty()) {
                files.write((dir / (stem + ".png")).string(), encode_png(img));
                e["input"] = stem + ".png";
            }
            const RowRef& x = r.rows[row];
            files.write((dir / (stem + "_pred.png")).string(),
                        encode_png(figures::row_cam_tile(in, img, false, row)));
            e["pred"] = stem + "_pred.png";
            if (r.rows[row].pred != r.rows[row].label) {
                files.write((dir / (stem + "_true.png")).string(),
                            encode_png(figures::row_cam_tile(in, img, true, row)));
                files.write((dir / (stem + "_diff.png")).string(),
                            encode_png(figures::row_diff_tile(in, img, row,
                                                              x.pred_cam_degenerate || x.true_cam_degenerate)));
                e["true"] = stem + "_true.png";
                e["diff"] = stem + "_diff.png";
                if (r.contrast_cams.count(row)) {
                    bool blank = false;
                    const Image c = figures::row_contrast_tile(r, in, img, row, blank);
                    files.write((dir / (stem + "_finer.png")).string(), encode_png(c));
                    e["finer"] = stem + "_finer.png";
                    finer_is_blank[i] = blank;
                }
            }
            entries[i] = std::move(e);
            bar.advance();
        });
        for (size_t i = 0; i < rows.size(); ++i) {
            images[std::to_string(rows[i])] = std::move(entries[i]);
            if (finer_is_blank[i]) finer_blank.push_back(rows[i]);
        }
        bar.finish();
    }
    {
        // Every row's input on sprite sheets (thumbs.hpp). Encoding a sheet costs more than drawing
        // it: the sheets are drawn and encoded on every core, one sheet per thread (one sheet: its
        // tiles on every core).
        const ThumbLayout l = thumb_layout(r.n, r.input_h, r.input_w);
        const int threads = worker_threads(opt.threads);
        Progress bar("explorer thumbnails", l.sheets(), opt.progress);
        parallel_for(l.sheets(), threads, [&](size_t k) {
            const Image sheet = thumb_sheet(
                l, k, [&](size_t row) { return figures::row_image(in, row); }, l.sheets() == 1 ? threads : 1);
            files.write((dir / ("img/thumbs-" + std::to_string(k) + ".png")).string(), encode_png(sheet));
            bar.advance();
        });
        bar.finish();
    }
    files.finish();
    json data = to_json(model);
    data["offline"] = true;
    data["images"] = images;
    data["finer_blank"] = finer_blank;
    data["cell_images"] = kCellImages;
    for (const auto& a : web_assets()) write_file_atomic((dir / std::string(a.name)).string(), a.bytes);
    write_file_atomic((dir / "data.js").string(), explorer_data_js(data));
    return {{"explorer/index.html",
             "interactive explorer (opens from disk; live CAMs for any class with `camscope serve`)",
             {}}};
}

}  // namespace report_detail

}  // namespace camscope

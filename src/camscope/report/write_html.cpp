// Self-contained HTML outputs (no CDN, no external files needed): the interactive per-class page
// (vanilla JS + SVG) and index.html with every PNG inline as a data URI.
#include <cmath>

#include <nlohmann/json.hpp>

#include "camscope/report/write_flips.hpp"
#include "camscope/report/writers.hpp"
#include "camscope/util/strings.hpp"

namespace camscope::report_detail {

// JSON inside <script>: "</" must not appear (it would close the script element).
std::string script_json(const nlohmann::json& j) {
    std::string s = j.dump();
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '<' && i + 1 < s.size() && s[i + 1] == '/') {
            out += "<\\/";
            ++i;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string html_escape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string base64(const std::vector<std::uint8_t>& b) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((b.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < b.size(); i += 3) {
        const unsigned v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
        out += t[v >> 18];
        out += t[(v >> 12) & 63];
        out += t[(v >> 6) & 63];
        out += t[v & 63];
    }
    if (i + 1 == b.size()) {
        const unsigned v = b[i] << 16;
        out += t[v >> 18];
        out += t[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == b.size()) {
        const unsigned v = (b[i] << 16) | (b[i + 1] << 8);
        out += t[v >> 18];
        out += t[(v >> 12) & 63];
        out += t[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

namespace {


const char* kStyle = R"CSS(
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
th{cursor:pointer;background:#f4f6f8;position:sticky;top:0;user-select:none}td.l,th.l{text-align:left}
th.sorted{background:#dde6f0}tr:hover td{background:#fff7d6}td .ci{white-space:nowrap;color:#666;font-size:11px}
.tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:6px 9px;border-radius:4px;font-size:12px;
display:none;white-space:pre;z-index:10}
.kpi{display:inline-block;margin:0 24px 12px 0}.kpi b{display:block;font-size:22px}
img{max-width:100%;border:1px solid #eee}pre{background:#f7f7f7;padding:12px;white-space:pre-wrap;font-size:13px}
details{margin:6px 0}summary{cursor:pointer}
.warn{background:#fff1e6;border:2px solid #c05000;padding:4px 14px;margin:12px 0}.warn p{margin:6px 0}
.warn p:first-child{font-weight:bold;color:#a03000}
)CSS";

}  // namespace

std::string interactive_html(const Report& r) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& c : r.per_class) {
        const auto& f = r.focus_per_class[c.cls];
        rows.push_back({{"index", c.cls},
                        {"name", r.class_names[c.cls]},
                        {"superclass", r.has_superclasses ? r.coarse_names[r.fine_to_coarse[c.cls]] : ""},
                        {"support", c.support},
                        {"accuracy", c.recall},
                        {"accuracy_ci", ci_json(c.recall_ci)},
                        {"precision", c.precision},
                        {"precision_ci", ci_json(c.precision_ci)},
                        {"f1", c.f1},
                        {"mean_confidence", c.mean_confidence},
                        {"confused_with", c.most_confused_with >= 0 ? r.class_names[c.most_confused_with] : ""},
                        {"confused_count", c.most_confused_count},
                        {"centre_correct", f.centre_correct},
                        {"centre_correct_ci", ci_json(f.centre_correct_ci)},
                        {"centre_wrong", f.centre_wrong},
                        {"centre_wrong_ci", ci_json(f.centre_wrong_ci)},
                        {"centre_n", format("correct %lld of %lld, wrong %lld of %lld", f.n_correct, f.total_correct,
                                            f.n_wrong, f.total_wrong)},
                        {"blank_cams", r.degenerate.by_pred_class[c.cls].share()},
                        {"blank_cams_ci", ci_json(r.degenerate.by_pred_class[c.cls].share_ci())},
                        {"blank_n", format("%lld of %lld", r.degenerate.by_pred_class[c.cls].degenerate,
                                           r.degenerate.by_pred_class[c.cls].maps)}});
    }
    std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Per-class accuracy: " +
                    html_escape(r.dataset_name) + "</title>\n<style>" + kStyle +
                    "</style></head><body>\n<h1>Per-class accuracy</h1>\n";
    h += format("<p>%zu images, %d classes, top-1 %s. Click a column header to sort; hover a bar or row for details. "
                "The dashed line is the overall top-1. Shares show their 95%% interval in brackets (Wilson; "
                "bootstrap for the CAM centre shares).</p>\n",
                r.n, r.num_classes, pct(r.top1).c_str());
    h += "<div id=\"chart\"></div>\n<table id=\"t\"><thead></thead><tbody></tbody></table>\n<div class=\"tip\" "
         "id=\"tip\"></div>\n";
    h += "<script id=\"data\" type=\"application/json\">" + script_json(rows) + "</script>\n";
    h += format("<script>const TOP1=%.9g, HAS_SUPER=%s;</script>\n", r.top1, r.has_superclasses ? "true" : "false");
    h += R"JS(<script>
"use strict";
const rows = JSON.parse(document.getElementById("data").textContent);
const cols = [
  ["index","#",0],["name","class",1],["superclass","superclass",1],["support","support",0],
  ["accuracy","accuracy",2],["precision","precision",2],["f1","F1",3],["mean_confidence","mean conf.",2],
  ["confused_with","most confused with",1],["confused_count","count",0],
  ["centre_correct","CAM centre (correct)",2],["centre_wrong","CAM centre (wrong)",2],
  ["blank_cams","blank CAMs (as predicted)",2]].filter(c => HAS_SUPER || c[0] !== "superclass");
let sortKey = "accuracy", asc = true;
const tip = document.getElementById("tip");
function fmt(v, kind) {
  if (v === null || v === undefined || (typeof v === "number" && isNaN(v))) return "n/a";
  if (kind === 2) return (100 * v).toFixed(1) + "%";
  if (kind === 3) return v.toFixed(3);
  return String(v);
}
function withCi(r, key, kind) {  // "72.0% (65.1–78.2%)" where the figure has an interval
  const v = fmt(r[key], kind), ci = r[key + "_ci"];
  if (kind !== 2 || !Array.isArray(ci) || v === "n/a") return v;
  return v + " (" + (100 * ci[0]).toFixed(1) + "\u2013" + (100 * ci[1]).toFixed(1) + "%)";
}
function details(r) {
  return r.name + " (#" + r.index + ")" + (HAS_SUPER ? "  [" + r.superclass + "]" : "") +
    "\naccuracy " + withCi(r, "accuracy", 2) + " of " + r.support + "   precision " + withCi(r, "precision", 2) +
    "   F1 " + fmt(r.f1, 3) + "\nmean confidence " + fmt(r.mean_confidence, 2) +
    (r.confused_with ? "\nmost confused with " + r.confused_with + " (" + r.confused_count + ")" : "") +
    "\nCAM centre share over maps with evidence: " + r.centre_n +
    "\nblank CAMs of images predicted as it: " + r.blank_n;
}
function showTip(e, text) { tip.textContent = text; tip.style.display = "block";
  tip.style.left = (e.clientX + 14) + "px"; tip.style.top = (e.clientY + 14) + "px"; }
function hideTip() { tip.style.display = "none"; }
function sorted() {
  return rows.slice().sort((a, b) => {
    let x = a[sortKey], y = b[sortKey];
    if (x === null) x = -Infinity; if (y === null) y = -Infinity;
    const c = (typeof x === "string") ? x.localeCompare(y) : x - y;
    return (asc ? c : -c) || a.index - b.index;
  });
}
function drawTable(data) {
  const head = document.querySelector("#t thead"), body = document.querySelector("#t tbody");
  head.innerHTML = ""; body.innerHTML = "";
  const tr = document.createElement("tr");
  for (const [key, label, kind] of cols) {
    const th = document.createElement("th");
    th.textContent = label + (key === sortKey ? (asc ? " \u25B2" : " \u25BC") : "");
    if (kind === 1) th.className = "l";
    if (key === sortKey) th.className += " sorted";
    th.onclick = () => { if (sortKey === key) asc = !asc; else { sortKey = key; asc = kind === 1; } draw(); };
    tr.appendChild(th);
  }
  head.appendChild(tr);
  for (const r of data) {
    const row = document.createElement("tr");
    for (const [key, , kind] of cols) {
      const td = document.createElement("td");
      td.textContent = fmt(r[key], kind);
      const ci = withCi(r, key, kind).slice(td.textContent.length).trim();
      if (ci) { const sp = document.createElement("span"); sp.className = "ci"; sp.textContent = ci; td.append(" ", sp); }
      if (kind === 1) td.className = "l";
      row.appendChild(td);
    }
    row.onmousemove = e => showTip(e, details(r)); row.onmouseleave = hideTip;
    body.appendChild(row);
  }
}
function drawChart(data) {
  const NS = "http://www.w3.org/2000/svg", bw = Math.max(6, Math.min(40, Math.floor(1100 / data.length)));
  const H = 220, left = 44, top = 10, W = left + bw * data.length + 10;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H + top + 30);
  const el = (name, attrs) => { const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]); svg.appendChild(e); return e; };
  for (let t = 0; t <= 1.0001; t += 0.25) {
    const y = top + H * (1 - t);
    el("line", {x1: left, x2: W, y1: y, y2: y, stroke: "#e3e3e3"});
    el("text", {x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#444"}).textContent = (100 * t) + "%";
  }
  data.forEach((r, i) => {
    const v = r.accuracy || 0, h = H * v;
    const bar = el("rect", {x: left + i * bw + 1, y: top + H - h, width: Math.max(1, bw - 2), height: h,
      fill: v < TOP1 ? "#d6604d" : "#4c72b0"});
    bar.addEventListener("mousemove", e => showTip(e, details(r)));
    bar.addEventListener("mouseleave", hideTip);
  });
  const y1 = top + H * (1 - TOP1);
  el("line", {x1: left, x2: W, y1: y1, y2: y1, stroke: "#222", "stroke-dasharray": "5,4"});
  el("text", {x: left, y: top + H + 22, "font-size": 12, fill: "#444"}).textContent =
    "classes in table order (red: below overall top-1 " + fmt(TOP1, 2) + ")";
  const box = document.getElementById("chart"); box.innerHTML = ""; box.appendChild(svg);
}
function draw() { const d = sorted(); drawChart(d); drawTable(d); }
draw();
</script>
</body></html>
)JS";
    return h;
}

namespace {

/// The sanity gate's section: the headline, how it was measured, one table row per comparison.
std::string sanity_section(const faith::SanitySummary& s) {
    auto num = [](double v) { return std::isfinite(v) ? format("%.3f", v) : std::string("&ndash;"); };
    std::string h = "<h2 id=\"sanity\">Sanity gate: do the maps depend on the model?</h2>\n<p>" +
                    html_escape(faith::sanity_headline(s)) + ".</p>\n<p>" +
                    html_escape(format("Adebayo et al. 2018, Sanity Checks for Saliency Maps: %s maps of the predicted "
                                       "class on %lld images (a seeded even sample, seed %llu) recomputed with the "
                                       "modules above '%s' randomised from the output down (cascading; %d "
                                       "randomisations per step, averaged), and for a random other class on the "
                                       "model as it is; ",
                                       s.method.c_str(), s.n, static_cast<unsigned long long>(s.seed), s.layer.c_str(),
                                       s.draws) +
                                std::string(faith::kSanityRandomisation) + "; " + faith::kSanityComparison +
                                format(". The gate fails at a mean Spearman of %.2f or more. Table: ", s.threshold)) +
                    "<a href=\"sanity.csv\">sanity.csv</a>.</p>\n<table><tr><th>test</th><th>randomised down to</th>"
                    "<th>modules</th><th>n</th><th>blank</th><th>Spearman</th><th>SSIM</th></tr>";
    auto row = [&](const std::string& test, const faith::SanityStep& st, bool fails) {
        h += "<tr" + std::string(fails ? " style=\"color:#a03000;font-weight:bold\"" : "") + "><td>" + html_escape(test) + "</td><td>" +
             html_escape(st.layer) + "</td><td>" + std::to_string(st.modules) + "</td><td>" + std::to_string(st.n) +
             "</td><td>" + std::to_string(st.blank) + "</td><td>" + num(st.spearman) + "</td><td>" + num(st.ssim) +
             "</td></tr>";
    };
    for (size_t i = 0; i < s.cascade.size(); ++i)
        row(format("cascade %zu", i + 1), s.cascade[i], i + 1 == s.cascade.size() && s.cascade_fails());
    if (s.random_logit.n > 0) row("random logit", s.random_logit, s.logit_fails());
    return h + "</table>\n";
}

}  // namespace

std::string index_html(const Report& r, const WriteOptions& opt, const std::vector<WrittenFile>& files) {
    std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>camscope report: " +
                    html_escape(r.dataset_name) + "</title>\n<style>" + kStyle + "</style></head><body>\n";
    h += "<h1>camscope analysis report</h1>\n<p>" +
         html_escape(format("%s on %s (%s split): %zu images, %d classes. CAM: %s at layer '%s'.",
                            r.model_path.c_str(), r.dataset_name.c_str(), r.split.c_str(), r.n, r.num_classes,
                            r.method.c_str(), r.layer.c_str())) +
         "</p>\n";
    if (r.identity && !r.identity->norm_source.empty())  // which normalisation the model was fed, and why
        h += "<p id=\"normalisation\">Input normalisation: " + html_escape(r.identity->norm_source) + ".</p>\n";
    if (const auto warn = degenerate_warning(r); !warn.empty()) {
        h += "<div class=\"warn\" id=\"degenerate-warning\">";
        for (const auto& w : warn) h += "<p>" + html_escape(w) + "</p>";
        h += "</div>\n";
    }
    if (const auto warn = sanity_warning(r); !warn.empty()) {
        h += "<div class=\"warn\" id=\"sanity-warning\">";
        for (const auto& w : warn) h += "<p>" + html_escape(w) + "</p>";
        h += "</div>\n";
    }
    h += "<div>";
    auto kpi = [&](const std::string& label, const std::string& v) {
        h += "<span class=\"kpi\"><b>" + html_escape(v) + "</b>" + html_escape(label) + "</span>";
    };
    kpi("top-1 accuracy", pct_ci(r.top1, r.top1_ci));
    kpi(format("top-%d accuracy", r.top5_k), pct_ci(r.top5, r.top5_ci));
    kpi("mean confidence", pct(r.mean_confidence));
    kpi("ECE", pct_ci(r.calibration.before.ece, r.calibration.before.ece_ci));
    kpi("ECE at " + temperature_label(r.calibration), pct(r.calibration.after.ece));
    kpi("high-confidence errors", std::to_string(r.high_conf_errors.size()));
    kpi("likely label errors", std::to_string(r.label_issues.issues.size()));
    if (r.has_superclasses) kpi("errors within superclass", pct(r.superclass.within_share));
    kpi(format("blank CAMs (%lld of %lld)", r.degenerate.pred().degenerate, r.degenerate.pred().maps),
        pct_ci(r.degenerate.pred().share(), r.degenerate.pred().share_ci()));
    h += "</div>\n";

    h += "<h2>Recommendations</h2>\n<ol>";
    for (const auto& rec : r.recommendations) h += "<li><b>" + html_escape(rec.rule) + ":</b> " + html_escape(rec.text) + "</li>";
    h += "</ol>\n";

    h += "<h2>Files</h2>\n<ul>";
    for (const auto& f : files)
        if (f.png.empty() || f.name.find('/') == std::string::npos)
            h += "<li><a href=\"" + html_escape(f.name) + "\">" + html_escape(f.name) + "</a>: " +
                 html_escape(f.description) + "</li>";
    h += "<li><a href=\"summary.json\">summary.json</a>: everything machine-readable</li></ul>\n";

    auto image = [&](const WrittenFile& f) {
        h += "<p><a href=\"" + html_escape(f.name) + "\">" + html_escape(f.name) + "</a><br><img loading=\"lazy\" alt=\"" +
             html_escape(f.description) + "\" src=\"data:image/png;base64," + base64(f.png) + "\"></p>\n";
    };
    auto find = [&](const std::string& name) -> const WrittenFile* {
        for (const auto& f : files)
            if (f.name == name) return &f;
        return nullptr;
    };
    h += "<h2>Overall</h2>\n";
    for (const char* name :
         {"confusion_matrix_top.png", "confusion_matrix_full.png", "top_confused_pairs.png", "reliability_diagram.png"})
        if (const auto* f = find(name)) image(*f);
    if (r.faithfulness) {  // one line + the chart: which CAM method explains this model best
        h += "<h2>CAM faithfulness</h2>\n<p>" + html_escape(faith::headline(*r.faithfulness)) + ". " +
             html_escape(r.faithfulness->best_reason) + ". Table: <a href=\"faithfulness.csv\">faithfulness.csv</a>.</p>\n";
        if (const auto* f = find("faithfulness.png")) image(*f);
    }
    if (r.flips) {
        h += flips_html(r);
        for (const auto& sh : r.flips->sheets)
            if (const auto* f = find(sh.file)) image(*f);
    }
    if (r.sanity) h += sanity_section(*r.sanity);
    h += "<h2>Confused pairs: where it should look vs where it looks</h2>\n";
    for (const auto& pf : r.pair_figures)
        if (const auto* f = find(pf.file)) image(*f);
    h += failure_modes_html(r, files);
    h += "<h2>Likely label errors</h2>\n";
    if (const auto* f = find("likely_label_errors.png")) image(*f);
    h += "<h2>Per class: worst and best predictions</h2>\n";
    if (r.galleries_drawn < r.num_classes)
        h += "<p>" + html_escape(format("Galleries of %lld of the %d classes: the lowest accuracy first, and the "
                                        "classes of the confused-pair sheets. Every class in the explorer.",
                                        r.galleries_drawn, r.num_classes)) + "</p>\n";
    std::vector<int> order = r.worst_classes;  // weakest first, then classes without test images
    for (int c = 0; c < r.num_classes; ++c)
        if (r.per_class[c].support == 0) order.push_back(c);
    for (int c : order) {
        const auto& g = r.galleries[c];
        const WrittenFile* f = find(g.file);
        if (!f) continue;
        h += "<details><summary>" +
             html_escape(format("%s: %s of %lld", r.class_names[c].c_str(),
                                pct_ci(r.per_class[c].recall, r.per_class[c].recall_ci).c_str(),
                                r.per_class[c].support)) +
             "</summary>";
        image(*f);
        h += "</details>\n";
    }
    h += "<h2>Summary</h2>\n<pre>" + html_escape(summary_text(r, opt)) + "</pre>\n</body></html>\n";
    return h;
}

}  // namespace camscope::report_detail

// camscope explorer. One script for both modes:
//  - served (`camscope serve`): the data comes from api/explorer, images and CAMs from the API
//    (any target class, method and layer, computed live), tags from api/tags;
//  - offline (<report>/explorer/index.html opened from disk): data.js defines
//    window.CAMSCOPE_DATA (fetch() is blocked on file://), the precomputed overlays are in img/,
//    tags live in localStorage.
// Everything a view shows is in the URL fragment: #overview, #grid?<filters>, #class/3, #lists,
// #image/12?<cam settings>&<the list's filters>; a link reproduces the view after a reload.
// Data fields of schema 2 (p_true, flags, lscore, centre, thumbs, lists, superclasses, ...) are all
// optional: without them the feature they drive is hidden. Text from the data is inserted as text,
// never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  let D = null;          // the explorer data (schema in src/camscope/report/explorer.hpp)
  let LIVE = false;      // served: live CAMs available
  let K = 0, N = 0;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  const pct = (v) => (v === null || v === undefined || !isFinite(v) ? "–" : (100 * v).toFixed(1) + "%");
  // The fitted temperature; where the fit stopped at a bound of its range (its NLL optimum lies
  // beyond), it says so rather than pass the bound off as the optimum.
  const tLabel = (c) => c.temperature.toFixed(2) +
    (c.temperature_at_bound > 0 ? " (the largest searched)" : c.temperature_at_bound < 0 ? " (the smallest searched)" : "");
  const name = (c) => D.classes[c];
  const clear = (node) => { while (node.firstChild) node.removeChild(node.firstChild); return node; };
  const editing = (t) => t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");

  // ------------------------------------------------------------------ the URL fragment
  // "#view/arg/arg?key=value&..." <-> {view, args, q (URLSearchParams)}
  function parseHash() {
    const h = location.hash.replace(/^#/, "");
    const qi = h.indexOf("?");
    const path = qi < 0 ? h : h.slice(0, qi);
    const parts = path.split("/").filter((x) => x !== "");
    return { view: parts[0] || "overview", args: parts.slice(1), q: new URLSearchParams(qi < 0 ? "" : h.slice(qi + 1)) };
  }
  function hashOf(view, q) {
    const s = q ? q.toString() : "";
    return view + (s ? "?" + s : "");
  }
  function go(hash) { location.hash = "#" + hash; }
  // Updates the fragment without a new history entry and without re-rendering (CAM settings).
  function replaceHash(hash) { history.replaceState(null, "", "#" + hash); }

  // ------------------------------------------------------------------ data columns (optional ones)
  const R = () => D.rows;
  const has = (col) => Array.isArray(D.rows[col]) && D.rows[col].length === N;
  const flagBits = { hce: 1, lcc: 2, label: 4 };
  const flagNames = { label: "likely label error", hce: "high-confidence error", lcc: "low-confidence correct" };
  const listOf = { label: "label_issues", hce: "high_conf_errors", lcc: "low_conf_correct" };
  let flagSets = null;  // from D.lists when rows.flags is absent
  function flagOf(r) {
    if (has("flags")) return D.rows.flags[r] || 0;
    if (!flagSets) {
      flagSets = new Uint8Array(N);
      const L = D.lists || {};
      for (const [k, bit] of Object.entries(flagBits))
        for (const row of L[listOf[k]] || []) if (row >= 0 && row < N) flagSets[row] |= bit;
    }
    return flagSets[r];
  }
  function flagAvailable(k) { return has("flags") || !!(D.lists && Array.isArray(D.lists[listOf[k]])); }
  function blankBits(r) { return D.rows.blank ? D.rows.blank[r] || 0 : 0; }
  function superOf(c) { return D.superclasses && D.superclasses.of_class ? D.superclasses.of_class[c] : -1; }
  // p(true class): the column when present, else from the top-k probabilities when the true class is
  // among them (null otherwise: unknown, sorted last).
  function pTrue(r) {
    if (has("p_true")) return D.rows.p_true[r];
    const i = D.rows.top[r].indexOf(D.rows.label[r]);
    return i >= 0 ? D.rows.top_p[r][i] : null;
  }
  const sorts = {
    index: { label: "image index", key: (r) => D.rows.index[r], ok: () => true },
    conf: { label: "confidence", key: (r) => D.rows.conf[r], ok: () => true },
    ptrue: { label: "p(true class)", key: pTrue, ok: () => true },
    lscore: { label: "label-error score", key: (r) => D.rows.lscore[r], ok: () => has("lscore") },
    centre: { label: "CAM centre share", key: (r) => D.rows.centre[r], ok: () => has("centre") },
  };

  function rowInfo(r) {
    const X = D.rows;
    return { row: r, index: X.index[r], label: X.label[r], pred: X.pred[r], conf: X.conf[r], correct: X.label[r] === X.pred[r] };
  }

  // ------------------------------------------------------------------ filters
  const FILTER_KEYS = ["ok", "t", "p", "sc", "cmin", "cmax", "flag", "deg", "tagged", "sort", "dir", "ps"];
  function filterParams(q) {  // only the list-defining keys (image links carry them along)
    const f = new URLSearchParams();
    for (const k of FILTER_KEYS) if (q.has(k) && q.get(k) !== "") f.set(k, q.get(k));
    return f;
  }
  function intParam(q, k, lo, hi) {
    if (!q.has(k) || q.get(k) === "") return null;
    const v = Number(q.get(k));
    return Number.isInteger(v) && v >= lo && v < hi ? v : null;
  }
  function numParam(q, k) {
    if (!q.has(k) || q.get(k) === "") return null;
    const v = Number(q.get(k));
    return isFinite(v) ? v : null;
  }
  // The rows a filter selects, in its sort order. Confidence range: cmin < conf <= cmax (the
  // calibration bins' rule: a bin holds (lower, upper]; conf 0 falls in the first).
  let listCache = { key: null, rows: null };
  function filterRows(q) {
    const f = filterParams(q);
    f.delete("ps");
    const key = f.toString() + (f.has("tagged") ? "|" + Tags.version : "");
    if (listCache.key === key) return listCache.rows;
    const X = D.rows;
    const ok = f.get("ok"), t = intParam(f, "t", 0, K), p = intParam(f, "p", 0, K);
    const sc = D.superclasses ? intParam(f, "sc", 0, D.superclasses.names.length) : null;
    const cmin = numParam(f, "cmin"), cmax = numParam(f, "cmax");
    const flag = flagBits[f.get("flag")] && flagAvailable(f.get("flag")) ? flagBits[f.get("flag")] : 0;
    const deg = f.get("deg") === "1", tagged = f.get("tagged") === "1";
    const out = [];
    for (let r = 0; r < N; ++r) {
      const l = X.label[r], pr = X.pred[r], c = X.conf[r];
      if (ok === "right" && l !== pr) continue;
      if (ok === "wrong" && l === pr) continue;
      if (t !== null && l !== t) continue;
      if (p !== null && pr !== p) continue;
      if (sc !== null && superOf(l) !== sc) continue;
      if (cmin !== null && cmin > 0 && !(c > cmin)) continue;
      if (cmax !== null && !(c <= cmax)) continue;
      if (flag && !(flagOf(r) & flag)) continue;
      if (deg && !(blankBits(r) & 1)) continue;
      if (tagged && !Tags.get(r).length) continue;
      out.push(r);
    }
    const sk = sorts[f.get("sort")] && sorts[f.get("sort")].ok() ? f.get("sort") : "index";
    const asc = f.get("dir") ? f.get("dir") === "asc" : sk === "index";
    const keyf = sorts[sk].key;
    const keys = new Float64Array(N);
    for (const r of out) { const v = keyf(r); keys[r] = v === null || v === undefined ? NaN : v; }
    out.sort((a, b) => {
      const x = keys[a], y = keys[b];
      const nx = x !== x, ny = y !== y;  // unknown values last, either order
      if (nx || ny) return nx === ny ? a - b : nx ? 1 : -1;
      return (asc ? x - y : y - x) || a - b;
    });
    listCache = { key, rows: out };
    return out;
  }
  function describeFilter(q) {
    const f = filterParams(q), parts = [];
    const t = intParam(f, "t", 0, K), p = intParam(f, "p", 0, K);
    if (f.get("ok") === "right") parts.push("correct");
    if (f.get("ok") === "wrong") parts.push("wrong");
    if (t !== null) parts.push("true " + name(t));
    if (p !== null) parts.push("predicted " + name(p));
    const sc = D.superclasses ? intParam(f, "sc", 0, D.superclasses.names.length) : null;
    if (sc !== null) parts.push("superclass " + D.superclasses.names[sc]);
    const cmin = numParam(f, "cmin"), cmax = numParam(f, "cmax");
    if (cmin !== null || cmax !== null) parts.push("confidence " + pct(cmin === null ? 0 : cmin) + "–" + pct(cmax === null ? 1 : cmax));
    if (flagNames[f.get("flag")]) parts.push(flagNames[f.get("flag")]);
    if (f.get("deg") === "1") parts.push("degenerate CAM");
    if (f.get("tagged") === "1") parts.push("tagged");
    return parts.length ? parts.join(", ") : "all images";
  }

  // ------------------------------------------------------------------ tags
  // Served: api/tags (persisted by the server when it can); offline, or a server without the tags
  // API: localStorage under "camscope-tags:" + tags_key.
  const TAG_RE = /^[A-Za-z0-9 _-]{1,40}$/;
  const Tags = {
    map: {}, mode: "local", persisted: false, version: 0,
    key() {
      return "camscope-tags:" + (D.tags_key || ("run:" + D.run.model_path + "|" + D.run.dataset_path + "|" + D.run.n));
    },
    async load() {
      if (LIVE) {
        try {
          const res = await (this.pending || fetch("api/tags"));
          this.pending = null;
          if (res && res.ok) {
            const j = await res.json();
            this.map = j.tags || {};
            this.mode = "server";
            this.persisted = !!j.persisted;
            this.version++;
            return;
          }
        } catch (e) { /* fall back to localStorage */ }
      }
      this.mode = "local";
      try { this.map = JSON.parse(localStorage.getItem(this.key()) || "{}") || {}; } catch (e) { this.map = {}; }
      this.version++;
    },
    get(r) { return this.map[String(r)] || []; },
    rows() { return Object.keys(this.map).map(Number).filter((r) => r >= 0 && r < N && this.get(r).length).sort((a, b) => a - b); },
    async set(r, tags) {
      tags = [...new Set(tags)].filter((t) => TAG_RE.test(t)).slice(0, 16);
      if (this.mode === "server") {
        const res = await fetch("api/tags", { method: "POST", headers: { "Content-Type": "application/json" },
                                              body: JSON.stringify({ row: r, tags }) });
        const j = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error(j.error || res.statusText);
        this.map = j.tags || {};
        this.persisted = !!j.persisted;
      } else {
        if (tags.length) this.map[String(r)] = tags; else delete this.map[String(r)];
        localStorage.setItem(this.key(), JSON.stringify(this.map));
      }
      this.version++;
    },
    async toggle(rows, tag, on) {
      for (const r of rows) {
        const cur = this.get(r);
        const want = on === undefined ? !cur.includes(tag) : on;
        if (want && !cur.includes(tag)) await this.set(r, cur.concat([tag]));
        if (!want && cur.includes(tag)) await this.set(r, cur.filter((x) => x !== tag));
      }
    },
    describe() {
      return this.mode === "server"
        ? (this.persisted ? "Tags are saved by the server to disk (tags.json in the results folder, or serve --tags FILE)." : "Tags are kept by the server in memory only (start it with --results or --tags to save them).")
        : "Tags are saved in this browser (localStorage" + (LIVE ? "; this server has no tags API" : "") + ").";
    },
  };
  function validTag(t) { return TAG_RE.test(t); }

  // ------------------------------------------------------------------ export
  function exportRecords(rows) {
    return rows.map((r) => {
      const x = rowInfo(r);
      return { row: r, index: x.index, label: x.label, label_name: name(x.label), prediction: x.pred,
               prediction_name: name(x.pred), confidence: x.conf, tags: Tags.get(r) };
    });
  }
  function csvCell(v) {
    const s = String(v);
    return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function toCsv(recs) {
    const cols = ["row", "index", "label", "label_name", "prediction", "prediction_name", "confidence", "tags"];
    const lines = [cols.join(",")];
    for (const o of recs) lines.push(cols.map((c) => csvCell(c === "tags" ? o.tags.join(";") : o[c])).join(","));
    return lines.join("\n") + "\n";
  }
  function download(filename, text, type) {
    const a = el("a", { href: URL.createObjectURL(new Blob([text], { type })), download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }
  function exportRows(rows, what, fmt) {
    const recs = exportRecords(rows);
    if (fmt === "csv") download("camscope-" + what + ".csv", toCsv(recs), "text/csv");
    else download("camscope-" + what + ".json", JSON.stringify({ run: D.run.model_path, images: recs }, null, 1), "application/json");
  }

  // ------------------------------------------------------------------ image URLs per mode
  function inputUrl(row) {
    if (LIVE) return "api/image/" + row + "/input.png";
    const e = D.images && D.images[row];
    return e && e.input ? e.input : null;
  }
  function camUrl(row, target, method, layer, mc) {
    if (LIVE) {
      let u = "api/cam?image=" + row + "&target=" + encodeURIComponent(target);
      if (method) u += "&method=" + encodeURIComponent(method);
      if (layer) u += "&layer=" + encodeURIComponent(layer);
      if (mc) u += "&max_channels=" + mc;
      return u;
    }
    const e = D.images && D.images[row];
    if (!e) return null;
    const which = target === "true" ? "true" : "pred";
    return e[which] || (which === "true" && rowInfo(row).correct ? e.pred : null);
  }
  function diffUrl(row, method, layer, mc) {
    if (LIVE)
      return "api/diff?image=" + row + "&method=" + encodeURIComponent(method) + "&layer=" + encodeURIComponent(layer) +
             (mc ? "&max_channels=" + mc : "");
    const e = D.images && D.images[row];
    return e ? e.diff || null : null;
  }
  function noEvidence(cls, layer) { return "no positive evidence for " + name(cls) + " at " + layer; }
  function setBlob(img, blob) {
    const old = img.src;
    img.src = URL.createObjectURL(blob);
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  }

  // A thumbnail of row r, `size` px on the long side: the sprite sheet tile when the data has
  // sheets, else the input PNG (served) or the offline copy's input (when it has one).
  // Served, a sheet (up to 1,024 tiles, megabytes for noisy images) is worth loading only when the
  // page shows many of its tiles or the browser has it already; otherwise the image's own PNG.
  const sheetsUsed = new Set();
  function spriteOk(rows) {
    const T = D.thumbs;
    if (!T || !T.sheets || !T.sheets.length || !(T.per_sheet > 0)) return () => false;
    if (!LIVE) return () => true;
    const n = new Map();
    for (const r of rows) { const k = Math.floor(r / T.per_sheet); n.set(k, (n.get(k) || 0) + 1); }
    return (r) => {
      const k = Math.floor(r / T.per_sheet);
      if (sheetsUsed.has(k) || n.get(k) >= Math.min(16, T.per_sheet)) { sheetsUsed.add(k); return true; }
      return false;
    };
  }
  function thumbPic(r, size, sprite) {
    const T = D.thumbs;
    if (sprite) {
      const [h, w] = T.tile, s = size / Math.max(h, w), k = Math.floor(r / T.per_sheet), i = r % T.per_sheet;
      const x = (i % T.cols) * w, y = Math.floor(i / T.cols) * h;
      const url = T.sheets[k];
      return el("div", { class: "sprite", role: "img", "aria-label": "image " + D.rows.index[r], dataset: { sheet: url },
                         style: "width:" + Math.round(w * s) + "px;height:" + Math.round(h * s) + "px;" +
                                "background-image:url(\"" + encodeURI(url) + "\");" +
                                "background-position:" + -x * s + "px " + -y * s + "px;" +
                                "background-size:" + T.cols * w * s + "px auto" });
    }
    const u = inputUrl(r);
    if (u) return el("img", { class: "input", src: u, alt: "image " + D.rows.index[r], loading: "lazy", width: size, height: size });
    return el("div", { class: "nothumb", style: "width:" + size + "px;height:" + size + "px", text: "no image offline" });
  }

  // ------------------------------------------------------------------ shared widgets
  function kpi(label, value) { return el("div", { class: "kpi" }, el("b", { text: value }), el("span", { text: label })); }

  function tagChips(r) {
    const t = Tags.get(r);
    return t.length ? el("div", { class: "chips" }, ...t.map((x) => el("span", { class: "chip", text: x }))) : null;
  }
  // One tile of a grid: the thumbnail, its caption, its tags; `listQuery` is carried into the image
  // link so prev/next walk the same list.
  function tile(r, listQuery, checked, sprite) {
    const x = rowInfo(r);
    const href = "#" + hashOf("image/" + r, listQuery);
    const cb = checked ? el("input", { type: "checkbox", class: "check", "aria-label": "check image " + x.index, tabindex: "-1" }) : null;
    if (cb) cb.checked = checked.has(r);
    const t = el("div", { class: "tile" + (x.correct ? "" : " wrong"), role: "listitem", tabindex: "-1",
                          "aria-label": "image " + x.index + ": " + name(x.label) + (x.correct ? ", correct" : ", predicted " + name(x.pred)),
                          dataset: { row: String(r) } },
                 el("a", { href, tabindex: "-1", class: "pic" }, thumbPic(r, 64, sprite ? sprite(r) : false)),
                 el("div", { class: "cap " + (x.correct ? "right" : "wrong") },
                    el("span", { text: "#" + x.index + " " }),
                    el("span", { text: name(x.label) + (x.correct ? " ✓" : " → " + name(x.pred)) }),
                    el("span", { class: "conf", text: " " + pct(x.conf) })),
                 blankBits(r) & 1 ? el("div", { class: "noev", text: "degenerate CAM" }) : null,
                 tagChips(r), cb);
    if (cb) cb.addEventListener("change", () => { if (cb.checked) checked.add(r); else checked.delete(r); updateChecked(); });
    t.addEventListener("click", (e) => {
      if (e.target === cb) return;
      if (e.target.closest("a")) return;  // the link navigates
      go(hashOf("image/" + r, listQuery));
    });
    return t;
  }
  // Arrow keys / j,k move the focus among a container's tiles, Enter opens, Space checks.
  function tileKeys(box) {
    box.addEventListener("keydown", (e) => {
      const tiles = [...box.querySelectorAll(".tile")];
      const i = tiles.indexOf(document.activeElement);
      if (i < 0) return;
      let j = -1;
      let perRow = tiles.findIndex((t) => t.offsetTop !== tiles[0].offsetTop);
      if (perRow <= 0) perRow = tiles.length;
      if (e.key === "ArrowRight" || e.key === "j") j = i + 1;
      else if (e.key === "ArrowLeft" || e.key === "k") j = i - 1;
      else if (e.key === "ArrowDown") j = i + perRow;
      else if (e.key === "ArrowUp") j = i - perRow;
      else if (e.key === "Home") j = 0;
      else if (e.key === "End") j = tiles.length - 1;
      else if (e.key === "Enter") { tiles[i].click(); e.preventDefault(); return; }
      else if (box.id === "grid" && gridTagAction && { r: 1, a: 1, o: 1 }[e.key] && !e.ctrlKey && !e.metaKey && !e.altKey) {
        // r / a / o: toggle relabel / ambiguous / ok on the focused image
        const tag = { r: "relabel", a: "ambiguous", o: "ok" }[e.key];
        const row = +tiles[i].dataset.row;
        e.preventDefault();
        lastTile = row;
        gridTagAction(() => Tags.toggle([row], tag));
        return;
      }
      else if (e.key === " ") {
        const cb = tiles[i].querySelector(".check");
        if (cb) { cb.checked = !cb.checked; cb.dispatchEvent(new Event("change")); }
        e.preventDefault();
        return;
      } else return;
      e.preventDefault();
      e.stopPropagation();
      if (j >= tiles.length && box.id === "grid") { pageStep(1, "first"); return; }
      if (j < 0 && box.id === "grid") { pageStep(-1, "last"); return; }
      j = Math.max(0, Math.min(tiles.length - 1, j));
      focusTile(tiles, j);
    });
  }
  function focusTile(tiles, j) {
    for (const t of tiles) t.tabIndex = -1;
    tiles[j].tabIndex = 0;
    tiles[j].focus();
  }

  function pairRow(t, p, count, rate) {
    const q = new URLSearchParams({ t, p, sort: "conf", dir: "desc" });
    return el("tr", { class: "link", tabindex: "0", role: "link", "aria-label": name(t) + " predicted as " + name(p) + ": " + count,
                      onclick: () => go(hashOf("grid", q)), onkeydown: (e) => { if (e.key === "Enter") go(hashOf("grid", q)); } },
              el("td", { text: name(t) }), el("td", { text: name(p) }),
              el("td", { class: "num", text: String(count) }), el("td", { class: "num", text: pct(rate) }));
  }
  function gridLink(text, params) { return el("a", { href: "#" + hashOf("grid", new URLSearchParams(params)), text }); }

  // ------------------------------------------------------------------ overview
  let overviewBuilt = false;
  function showOverview() {
    if (overviewBuilt) return;
    overviewBuilt = true;
    const o = D.overall, c = D.calibration;
    $("kpis").append(kpi("top-1 accuracy", pct(o.top1)), kpi("top-" + o.top5_k + " accuracy", pct(o.top5)),
                     kpi("images", String(D.run.n)), kpi("errors", String(o.errors)),
                     kpi("mean confidence", pct(o.mean_confidence)), kpi("ECE", pct(c.ece)), kpi("MCE", pct(c.mce)),
                     kpi("temperature", tLabel(c)), kpi("ECE at T", pct(c.ece_after)));
    buildConfusion();
    const pairs = $("pairs");
    pairs.append(el("tr", {}, el("th", { text: "true" }), el("th", { text: "predicted" }), el("th", { text: "count" }),
                    el("th", { text: "rate" })));
    for (const p of D.pairs.slice(0, 12)) pairs.append(pairRow(p.true, p.pred, p.count, p.rate));
    if (!D.pairs.length) pairs.append(el("tr", {}, el("td", { colspan: "4", text: "no errors" })));
    buildCalibration();
    const weak = $("weakest");
    weak.append(el("tr", {}, el("th", { text: "class" }), el("th", { text: "accuracy" }), el("th", { text: "F1" }),
                   el("th", { text: "support" })));
    const order = D.per_class.filter((x) => x.support > 0).sort((a, b) => a.accuracy - b.accuracy || a.index - b.index);
    for (const x of order.slice(0, 10))
      weak.append(el("tr", { class: "link", tabindex: "0", role: "link", onclick: () => go("class/" + x.index),
                             onkeydown: (e) => { if (e.key === "Enter") go("class/" + x.index); } },
                     el("td", { text: x.name }), el("td", { class: "num", text: pct(x.accuracy) }),
                     el("td", { class: "num", text: pct(x.f1) }), el("td", { class: "num", text: String(x.support) })));
    const ol = $("ov-lists");
    for (const k of ["label", "hce", "lcc"]) {
      if (!flagAvailable(k)) continue;
      const n = D.lists && D.lists[listOf[k]] ? D.lists[listOf[k]].length : null;
      ol.append(el("li", {}, gridLink(flagNames[k] + (n !== null ? " (" + n + ")" : ""), listParams(k))));
    }
    const dg = degenerateCounts();
    if (dg) ol.append(el("li", {}, gridLink("degenerate CAMs (" + dg.degenerate + " of " + dg.maps + ")", { deg: 1 })));
    ol.append(el("li", {}, el("a", { href: "#lists", text: "all lists, faithfulness ranking…" })));
  }
  function listParams(k) {
    return k === "label" ? (has("lscore") ? { flag: "label", sort: "lscore", dir: "desc" } : { flag: "label" })
         : k === "hce" ? { flag: "hce", sort: "conf", dir: "desc" } : { flag: "lcc", sort: "conf", dir: "asc" };
  }
  function degenerateCounts() {
    if (D.lists && D.lists.degenerate) return D.lists.degenerate;
    if (D.cam_health) return { maps: D.cam_health.maps, degenerate: D.cam_health.degenerate };
    return null;
  }

  // Confusion matrix: cell size by a slider (zoom), the box scrolls (pan); superclass blocks get a
  // border; one cell is in the tab order, arrow keys move within the matrix.
  function buildConfusion() {
    const counts = D.confusion.counts;
    let get;
    if (counts) get = (t, p) => counts[t][p];
    else {  // schema 2 above 200 classes: the non-zero cells only
      const m = new Map();
      for (const [t, p, n] of D.confusion.cells || []) m.set(t * K + p, n);
      get = (t, p) => m.get(t * K + p) || 0;
    }
    const order = D.confusion.order && D.confusion.order.length === K ? D.confusion.order : [...Array(K).keys()];
    const support = D.per_class.map((x) => x.support);
    const box = $("confusion"), tip = $("tooltip");
    if (K > 120) { confusionCanvas(get, order, support); return; }
    const table = el("table", { role: "grid", "aria-label": "confusion matrix" });
    const head = el("tr", {}, el("th", {}));
    for (const p of order) head.append(el("th", { class: "col", scope: "col", text: name(p) }));
    const sup = D.superclasses && D.superclasses.of_class;
    const info = $("cell-info");
    const describe = (t, p, n) => {
      const rate = support[t] ? n / support[t] : 0;
      return { text: (t === p ? name(t) + " predicted correctly" : name(t) + " predicted as " + name(p)) + ": " + n +
                     " image" + (n === 1 ? "" : "s") + " (" + pct(rate) + " of the class)",
               tip: (t === p ? "correct: " + name(t) + "\n" : "true " + name(t) + "\npredicted " + name(p) + "\n") + n +
                    " images, " + pct(rate) + " of the class" + (sup ? "\nsuperclass " + D.superclasses.names[sup[t]] : "") };
    };
    const open = (t, p) => go(hashOf("grid", new URLSearchParams({ t, p, sort: "conf", dir: "desc" })));
    // The cells as one HTML string (10,000 of them at 100 classes: 5× faster than one element at a
    // time). Only numbers computed here go into it; the class names are set as text below.
    const html = [];
    order.forEach((t, i) => {
      html.push('<tr><th class="row" scope="row"></th>');
      order.forEach((p, j) => {
        const n = +get(t, p) || 0;
        const rate = support[t] ? n / support[t] : 0;
        const a = n ? Math.min(1, 0.12 + 0.88 * Math.sqrt(rate)).toFixed(3) : 0;
        let cls = "cell";
        if (sup && i > 0 && sup[order[i - 1]] !== sup[t]) cls += " sb-top";
        if (sup && j > 0 && sup[order[j - 1]] !== sup[p]) cls += " sb-left";
        html.push('<td class="' + cls + '" role="gridcell" tabindex="' + (i === 0 && j === 0 ? 0 : -1) +
                  '" style="background:rgba(' + (t === p ? "51,103,214," : "200,30,30,") + a + ")" + (rate > 0.6 ? ";color:#fff" : "") +
                  '" data-t="' + (t | 0) + '" data-p="' + (p | 0) + '" data-count="' + n + '" data-i="' + i + '" data-j="' + j + '">' +
                  (n ? n : "") + "</td>");
      });
      html.push("</tr>");
    });
    const body = document.createElement("tbody");
    body.innerHTML = html.join("");
    [...body.rows].forEach((tr, i) => { tr.cells[0].textContent = name(order[i]); });
    const hb = document.createElement("thead");
    hb.append(head);
    table.append(hb, body);
    const cellOf = (e) => e.target.closest && e.target.closest("td.cell");
    const show = (td, ev) => {
      const d = describe(+td.dataset.t, +td.dataset.p, +td.dataset.count);
      info.textContent = d.text;
      tip.textContent = d.tip;
      tip.hidden = false;
      const r = ev ? { x: ev.clientX, y: ev.clientY } : (() => { const b = td.getBoundingClientRect(); return { x: b.right, y: b.bottom }; })();
      tip.style.left = r.x + 14 + "px";
      tip.style.top = r.y + 14 + "px";
    };
    table.addEventListener("mouseover", (e) => { const td = cellOf(e); if (td) show(td, e); });
    table.addEventListener("mousemove", (e) => { const td = cellOf(e); if (td) { tip.style.left = e.clientX + 14 + "px"; tip.style.top = e.clientY + 14 + "px"; } });
    table.addEventListener("mouseleave", () => { tip.hidden = true; });
    table.addEventListener("click", (e) => { const td = cellOf(e); if (td) { tip.hidden = true; open(+td.dataset.t, +td.dataset.p); } });
    table.addEventListener("focusin", (e) => { const td = cellOf(e); if (td) show(td, null); });
    table.addEventListener("focusout", () => { tip.hidden = true; });
    table.addEventListener("keydown", (e) => {
      const td = cellOf(e);
      if (!td) return;
      let i = +td.dataset.i, j = +td.dataset.j;
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); tip.hidden = true; open(+td.dataset.t, +td.dataset.p); return; }
      if (e.key === "ArrowRight") j++; else if (e.key === "ArrowLeft") j--;
      else if (e.key === "ArrowDown") i++; else if (e.key === "ArrowUp") i--;
      else if (e.key === "Home") j = 0; else if (e.key === "End") j = K - 1;
      else return;
      e.preventDefault();
      i = Math.max(0, Math.min(K - 1, i));
      j = Math.max(0, Math.min(K - 1, j));
      const next = table.rows[i + 1].cells[j + 1];
      td.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    });
    box.append(table);
    const zoom = $("cm-zoom");
    const apply = () => {
      const s = +zoom.value;
      box.style.setProperty("--cell", s + "px");
      box.classList.toggle("dense", s < 16);
      $("cm-zoom-val").textContent = s + " px" + (s < 16 ? " (counts on hover)" : "");
    };
    zoom.value = K > 30 ? "10" : "26";
    zoom.addEventListener("input", apply);
    apply();
  }

  // Above 120 classes a table would have too many cells: one canvas, the same colours, hover/focus
  // for the counts, arrow keys move a cursor, click or Enter opens the cell's images.
  function confusionCanvas(get, order, support) {
    const box = $("confusion"), tip = $("tooltip"), info = $("cell-info"), zoom = $("cm-zoom");
    const cv = el("canvas", { tabindex: "0", role: "img", id: "confusion-canvas",
                              "aria-label": "confusion matrix of " + K + " classes; arrow keys move, Enter opens a cell" });
    box.append(cv);
    const pos = new Int32Array(K);
    order.forEach((c, i) => { pos[c] = i; });
    const sup = D.superclasses && D.superclasses.of_class;
    let cur = [0, 0], s = 4;
    const draw = () => {
      s = Math.max(2, +zoom.value);
      cv.width = cv.height = K * s;
      const ctx = cv.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, K * s, K * s);
      for (let i = 0; i < K; ++i) {
        const t = order[i];
        for (let j = 0; j < K; ++j) {
          const n = get(t, order[j]);
          if (!n) continue;
          const rate = support[t] ? n / support[t] : 0, a = Math.min(1, 0.12 + 0.88 * Math.sqrt(rate));
          ctx.fillStyle = (i === j ? "rgba(51,103,214," : "rgba(200,30,30,") + a + ")";
          ctx.fillRect(j * s, i * s, s, s);
        }
      }
      if (sup) {
        ctx.strokeStyle = "#444";
        ctx.lineWidth = 1;
        for (let i = 1; i < K; ++i)
          if (sup[order[i]] !== sup[order[i - 1]]) {
            ctx.beginPath(); ctx.moveTo(i * s + 0.5, 0); ctx.lineTo(i * s + 0.5, K * s);
            ctx.moveTo(0, i * s + 0.5); ctx.lineTo(K * s, i * s + 0.5); ctx.stroke();
          }
      }
      if (document.activeElement === cv) {
        ctx.strokeStyle = "#000";
        ctx.lineWidth = 2;
        ctx.strokeRect(cur[1] * s, cur[0] * s, s, s);
      }
      $("cm-zoom-val").textContent = s + " px per cell";
    };
    const say = (i, j, x, y) => {
      const t = order[i], p = order[j], n = get(t, p), rate = support[t] ? n / support[t] : 0;
      info.textContent = (t === p ? name(t) + " predicted correctly" : name(t) + " predicted as " + name(p)) + ": " + n +
                         " image" + (n === 1 ? "" : "s") + " (" + pct(rate) + " of the class)";
      tip.textContent = "true " + name(t) + "\npredicted " + name(p) + "\n" + n + " images, " + pct(rate) + " of the class";
      tip.hidden = false;
      tip.style.left = x + 14 + "px";
      tip.style.top = y + 14 + "px";
    };
    const at = (e) => {
      const r = cv.getBoundingClientRect();
      return [Math.floor((e.clientY - r.top) / s), Math.floor((e.clientX - r.left) / s)];
    };
    const open = (i, j) => go(hashOf("grid", new URLSearchParams({ t: order[i], p: order[j], sort: "conf", dir: "desc" })));
    cv.addEventListener("mousemove", (e) => { const [i, j] = at(e); if (i >= 0 && i < K && j >= 0 && j < K) say(i, j, e.clientX, e.clientY); });
    cv.addEventListener("mouseleave", () => { tip.hidden = true; });
    cv.addEventListener("click", (e) => { const [i, j] = at(e); if (i >= 0 && i < K && j >= 0 && j < K) { tip.hidden = true; open(i, j); } });
    cv.addEventListener("focus", draw);
    cv.addEventListener("blur", () => { tip.hidden = true; draw(); });
    cv.addEventListener("keydown", (e) => {
      let [i, j] = cur;
      if (e.key === "Enter") { open(i, j); return; }
      if (e.key === "ArrowRight") j++; else if (e.key === "ArrowLeft") j--;
      else if (e.key === "ArrowDown") i++; else if (e.key === "ArrowUp") i--; else return;
      e.preventDefault();
      cur = [Math.max(0, Math.min(K - 1, i)), Math.max(0, Math.min(K - 1, j))];
      draw();
      const r = cv.getBoundingClientRect();
      say(cur[0], cur[1], r.left + cur[1] * s, r.top + cur[0] * s);
    });
    zoom.min = "2";
    zoom.value = "4";
    zoom.addEventListener("input", draw);
    draw();
  }

  function buildCalibration() {
    const c = D.calibration, W = 360, H = 200, P = 34, CH = 46;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", W + P + 10);
    svg.setAttribute("height", H + CH + P + 24);
    svg.setAttribute("id", "reliability");
    svg.setAttribute("role", "group");
    svg.setAttribute("aria-label", "reliability diagram; each bin opens its images");
    const add = (tag, attrs, text, parent) => {
      const e = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      (parent || svg).append(e);
      return e;
    };
    const X = (v) => P + v * W, Y = (v) => 5 + (1 - v) * H;
    add("rect", { x: X(0), y: Y(1), width: W, height: H, fill: "#fff", stroke: "#ccc" });
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      add("line", { x1: X(0) - 4, y1: Y(v), x2: X(1), y2: Y(v), stroke: v === 0 || v === 1 ? "#ccc" : "#eee" });
      add("text", { x: X(0) - 6, y: Y(v) + 3, "text-anchor": "end" }, String(v));
    }
    const maxCount = Math.max(1, ...c.bins.map((b) => b.count));
    const cy = Y(0) + 22;  // the count strip below the x axis
    for (const b of c.bins) {
      if (!b.count) continue;
      const g = add("g", { class: "bin", tabindex: "0", role: "link",
                           "aria-label": "confidence " + pct(b.lower) + " to " + pct(b.upper) + ": " + b.count + " images, accuracy " + pct(b.accuracy),
                           dataset: "" });
      g.dataset.lower = b.lower;
      g.dataset.upper = b.upper;
      g.dataset.count = b.count;
      const w = (b.upper - b.lower) * W;
      // opacity grows with the bin's share of images: a 2-image bin is pale next to a 7,000-image one
      const op = 0.25 + 0.75 * Math.sqrt(b.count / maxCount);
      add("rect", { x: X(b.lower), y: Y(1), width: w, height: H, fill: "transparent" }, undefined, g);
      add("rect", { x: X(b.lower) + 1, y: Y(b.accuracy), width: w - 2, height: H * b.accuracy, fill: "#3367d6", opacity: op }, undefined, g);
      const hh = (CH - 4) * Math.log1p(b.count) / Math.log1p(maxCount);
      add("rect", { x: X(b.lower) + 1, y: cy + CH - hh, width: w - 2, height: hh, fill: "#888" }, undefined, g);
      add("text", { x: X(b.lower) + w / 2, y: cy + CH - hh - 2, "text-anchor": "middle", class: "count" }, String(b.count), g);
      add("title", {}, "confidence " + pct(b.lower) + "–" + pct(b.upper) + ": " + b.count + " images, accuracy " +
                       pct(b.accuracy) + ", mean confidence " + pct(b.confidence) + " (click: these images)", g);
      const q = new URLSearchParams({ cmin: String(b.lower), cmax: String(b.upper), sort: "conf", dir: "desc" });
      g.addEventListener("click", () => go(hashOf("grid", q)));
      g.addEventListener("keydown", (e) => { if (e.key === "Enter") go(hashOf("grid", q)); });
    }
    add("line", { x1: X(0), y1: Y(0), x2: X(1), y2: Y(1), stroke: "#b00020", "stroke-dasharray": "4 3" });
    for (const v of [0, 0.25, 0.5, 0.75, 1]) add("text", { x: X(v), y: Y(0) + 13, "text-anchor": "middle" }, String(v));
    add("text", { x: X(0) - 6, y: cy + CH, "text-anchor": "end" }, "count");
    add("text", { x: X(0.5), y: cy + CH + 16, "text-anchor": "middle" }, "confidence (bottom strip: images per bin, log scale)");
    add("text", { x: 10, y: Y(0.5), transform: "rotate(-90 10 " + Y(0.5) + ")", "text-anchor": "middle" }, "accuracy");
    $("calibration").append(svg, el("p", { class: "hint",
      text: "ECE " + pct(c.ece) + ", MCE " + pct(c.mce) + "; temperature scaling (T = " + tLabel(c) +
            ") gives ECE " + pct(c.ece_after) + ". Bars below the dashed line: over-confident; pale bars hold few images. " +
            "Click a bin for its images." }));
  }

  // ------------------------------------------------------------------ grid
  const checked = new Set();
  let lastTile = null, gridTagAction = null;
  let gridQuery = new URLSearchParams();
  let gridBuilt = false;
  function updateChecked() { $("grid-checked").textContent = checked.size ? checked.size + " checked" : ""; }
  function buildGridControls() {
    if (gridBuilt) return;
    gridBuilt = true;
    for (const id of ["f-t", "f-p"])
      D.classes.forEach((n, c) => $(id).append(el("option", { value: String(c), text: c + ": " + n })));
    if (D.superclasses && D.superclasses.names) D.superclasses.names.forEach((n, i) => $("f-sc").append(el("option", { value: String(i), text: n })));
    else $("f-sc-label").hidden = true;
    for (const k of ["label", "hce", "lcc"]) if (flagAvailable(k)) $("f-flag").append(el("option", { value: k, text: flagNames[k] }));
    if (!D.rows.blank) $("f-deg-label").hidden = true;
    for (const [k, s] of Object.entries(sorts)) if (s.ok()) $("f-sort").append(el("option", { value: k, text: s.label }));
    const change = () => {
      const q = new URLSearchParams();
      const set = (k, v) => { if (v !== "" && v !== null && v !== undefined) q.set(k, v); };
      set("ok", $("f-ok").value); set("t", $("f-t").value); set("p", $("f-p").value); set("sc", $("f-sc").value);
      set("cmin", $("f-cmin").value); set("cmax", $("f-cmax").value); set("flag", $("f-flag").value);
      if ($("f-deg").checked) q.set("deg", "1");
      if ($("f-tagged").checked) q.set("tagged", "1");
      set("sort", $("f-sort").value); set("dir", $("f-dir").value);
      if ($("f-ps").value !== "60") q.set("ps", $("f-ps").value);
      go(hashOf("grid", q));
    };
    for (const id of ["f-ok", "f-t", "f-p", "f-sc", "f-cmin", "f-cmax", "f-flag", "f-deg", "f-tagged", "f-dir", "f-ps"])
      $(id).addEventListener("change", change);
    // a new sort key starts in its natural order (index ascending, the scores descending)
    $("f-sort").addEventListener("change", () => { $("f-dir").value = $("f-sort").value === "index" ? "asc" : "desc"; change(); });
    $("f-reset").addEventListener("click", () => go("grid"));
    $("pg-first").addEventListener("click", () => setPage(0));
    $("pg-prev").addEventListener("click", () => setPage(curPage - 1));
    $("pg-next").addEventListener("click", () => setPage(curPage + 1));
    $("pg-last").addEventListener("click", () => setPage(1e9));
    $("pg-num").addEventListener("change", () => setPage(+$("pg-num").value - 1));
    // The checked images, else the last focused one on this page.
    const targets = () => {
      if (checked.size) return [...checked];
      const f = lastTile !== null && document.querySelector("#grid .tile[data-row='" + lastTile + "']");
      return f ? [lastTile] : [];
    };
    const tagAction = async (fn) => {
      const rows = targets();
      if (!rows.length) { $("grid-note").textContent = "Check images (or focus one) to tag them."; return; }
      try { await fn(rows); } catch (e) { $("grid-note").textContent = "tagging failed: " + e.message; return; }
      renderGrid();
      const t = lastTile !== null && document.querySelector("#grid .tile[data-row='" + lastTile + "']");
      if (t) focusTile([...document.querySelectorAll("#grid .tile")], [...document.querySelectorAll("#grid .tile")].indexOf(t));
    };
    gridTagAction = tagAction;
    $("grid").addEventListener("focusin", (e) => { const t = e.target.closest && e.target.closest(".tile"); if (t) lastTile = +t.dataset.row; });
    for (const b of document.querySelectorAll("#view-grid .tagbar button[data-tag]"))
      b.addEventListener("click", () => tagAction((rows) => Tags.toggle(rows, b.dataset.tag, true)));
    $("grid-tag-add").addEventListener("click", () => {
      const t = $("grid-tag-text").value.trim();
      if (!validTag(t)) { $("grid-note").textContent = "a tag is 1–40 characters of letters, digits, space, _ and -"; return; }
      tagAction((rows) => Tags.toggle(rows, t, true));
    });
    $("grid-tag-clear").addEventListener("click", () => tagAction(async (rows) => { for (const r of rows) await Tags.set(r, []); }));
    $("grid-check-page").addEventListener("click", () => {
      for (const t of document.querySelectorAll("#grid .tile")) checked.add(+t.dataset.row);
      renderGrid();
    });
    $("grid-uncheck").addEventListener("click", () => { checked.clear(); renderGrid(); });
    $("exp-sel-csv").addEventListener("click", () => exportRows(filterRows(gridQuery), "selection", "csv"));
    $("exp-sel-json").addEventListener("click", () => exportRows(filterRows(gridQuery), "selection", "json"));
    $("exp-tag-csv").addEventListener("click", () => exportRows(Tags.rows(), "tagged", "csv"));
    $("exp-tag-json").addEventListener("click", () => exportRows(Tags.rows(), "tagged", "json"));
    tileKeys($("grid"));
  }
  let curPage = 0, pageCount = 1, focusAfter = null;
  function pageSize(q) {
    const v = intParam(q, "ps", 1, 1001);
    return v || 60;
  }
  function setPage(p) {
    const q = new URLSearchParams(gridQuery);
    p = Math.max(0, Math.min(pageCount - 1, p));
    if (p) q.set("page", String(p + 1)); else q.delete("page");
    go(hashOf("grid", q));
  }
  function pageStep(d, focus) {
    if (curPage + d < 0 || curPage + d >= pageCount) return;
    focusAfter = focus;
    setPage(curPage + d);
  }
  function showGrid(q) {
    buildGridControls();
    gridQuery = q;
    const f = filterParams(q);
    $("f-ok").value = f.get("ok") || "";
    $("f-t").value = intParam(f, "t", 0, K) !== null ? f.get("t") : "";
    $("f-p").value = intParam(f, "p", 0, K) !== null ? f.get("p") : "";
    $("f-sc").value = f.get("sc") || "";
    $("f-cmin").value = f.get("cmin") || "";
    $("f-cmax").value = f.get("cmax") || "";
    $("f-flag").value = f.get("flag") || "";
    $("f-deg").checked = f.get("deg") === "1";
    $("f-tagged").checked = f.get("tagged") === "1";
    $("f-sort").value = sorts[f.get("sort")] && sorts[f.get("sort")].ok() ? f.get("sort") : "index";
    $("f-dir").value = f.get("dir") || ($("f-sort").value === "index" ? "asc" : "desc");
    const ps = pageSize(q);
    $("f-ps").value = [...$("f-ps").options].some((o) => o.value === String(ps)) ? String(ps) : (() => {
      $("f-ps").append(el("option", { text: String(ps) }));
      return String(ps);
    })();
    const t = intParam(f, "t", 0, K);
    if (t !== null) $("class-select").value = String(t);
    renderGrid();
  }
  function renderGrid() {
    const q = gridQuery;
    const rows = filterRows(q), ps = pageSize(q);
    pageCount = Math.max(1, Math.ceil(rows.length / ps));
    curPage = Math.max(0, Math.min(pageCount - 1, (intParam(q, "page", 1, 1e9) || 1) - 1));
    const from = curPage * ps, shown = rows.slice(from, from + ps);
    $("grid-title").textContent = describeFilter(q) + ": " + rows.length + " image" + (rows.length === 1 ? "" : "s");
    $("pg-num").value = String(curPage + 1);
    $("pg-num").max = String(pageCount);
    $("pg-of").textContent = "of " + pageCount + (rows.length ? " (images " + (from + 1) + "–" + (from + shown.length) + ")" : "");
    $("pg-first").disabled = $("pg-prev").disabled = curPage === 0;
    $("pg-next").disabled = $("pg-last").disabled = curPage >= pageCount - 1;
    const box = clear($("grid"));
    box.dataset.total = String(rows.length);
    box.dataset.page = String(curPage + 1);
    const lq = filterParams(q);
    if (!rows.length) box.append(el("p", { class: "hint", text: "No image matches these filters." }));
    const sp = spriteOk(shown);
    for (const r of shown) box.append(tile(r, lq, checked, sp));
    const tiles = [...box.querySelectorAll(".tile")];
    if (tiles.length) {
      const j = focusAfter === "last" ? tiles.length - 1 : 0;
      tiles[j].tabIndex = 0;
      if (focusAfter) tiles[j].focus();
    }
    focusAfter = null;
    const notes = [];
    if (!LIVE && !D.thumbs) notes.push("This offline copy has no thumbnails of every image (written before sprite sheets): only images with precomputed CAMs show a picture.");
    notes.push(Tags.describe());
    $("grid-note").textContent = notes.join(" ");
    updateChecked();
  }

  // ------------------------------------------------------------------ class view
  function showClass(c) {
    const x = D.per_class[c];
    $("class-select").value = String(c);
    $("class-title").textContent = "Class " + c + ": " + x.name;
    clear($("class-kpis")).append(kpi("accuracy (recall)", pct(x.accuracy)), kpi("precision", pct(x.precision)),
                                  kpi("F1", pct(x.f1)), kpi("support", String(x.support)),
                                  kpi("predicted as it", String(x.predicted)), kpi("mean confidence", pct(x.mean_confidence)));
    const errs = x.support - x.correct;
    const wrongQ = new URLSearchParams({ t: c, ok: "wrong", sort: "conf", dir: "desc" });
    const rightQ = new URLSearchParams({ t: c, ok: "right", sort: "conf", dir: "desc" });
    clear($("class-links")).append(gridLink("all " + x.support + " images of " + x.name, { t: c }), " · ",
                                   gridLink("its " + errs + " errors", wrongQ), " · ",
                                   gridLink("its " + x.correct + " correct predictions", rightQ), " · ",
                                   gridLink("the " + x.predicted + " images predicted as " + x.name, { p: c, sort: "conf", dir: "desc" }));
    const g = D.galleries[c];
    const gal = (node, rows, q, empty) => {
      clear(node);
      if (!rows.length) node.append(el("p", { class: "hint", text: empty }));
      const sp = spriteOk(rows);
      for (const r of rows) node.append(tile(r, q, null, sp));
      const tiles = [...node.querySelectorAll(".tile")];
      if (tiles.length) tiles[0].tabIndex = 0;
    };
    gal($("gallery-worst"), filterRows(wrongQ).slice(0, Math.max(12, g.worst.length)), wrongQ, "no errors on this class");
    gal($("gallery-best"), filterRows(rightQ).slice(0, Math.max(6, g.best.length)), rightQ, "no correct predictions of this class");
    const as = clear($("confused-as")), from = clear($("confused-from"));
    const header = () => el("tr", {}, el("th", { text: "true" }), el("th", { text: "predicted" }), el("th", { text: "count" }),
                            el("th", { text: "rate" }));
    as.append(header());
    from.append(header());
    for (const p of D.pairs) {
      if (p.true === c) as.append(pairRow(p.true, p.pred, p.count, p.rate));
      if (p.pred === c) from.append(pairRow(p.true, p.pred, p.count, p.rate));
    }
  }

  // ------------------------------------------------------------------ lists view
  let listsBuilt = false;
  function showLists() {
    if (listsBuilt) { refreshListTiles(); return; }
    listsBuilt = true;
    const box = $("lists");
    for (const k of ["label", "hce", "lcc"]) {
      const sec = el("section", { class: "list", id: "list-" + k });
      const q = new URLSearchParams(listParams(k));
      if (!flagAvailable(k)) {
        sec.append(el("h3", { text: flagNames[k] }), el("p", { class: "hint", text: "not in this data (written by an older camscope)" }));
        box.append(sec);
        continue;
      }
      const rows = filterRows(q);
      sec.append(el("h3", {}, el("span", { text: { label: "Likely label errors", hce: "High-confidence errors", lcc: "Low-confidence correct predictions" }[k] + ": " + rows.length + " " }), gridLink("open all in the grid", q)));
      if (k === "label") sec.append(el("p", { class: "hint", text: "misclassified images whose given label the model finds least plausible" +
                                                                   (has("lscore") ? " (highest label-error score first)" : "") }));
      if (k === "hce" && D.thresholds) sec.append(el("p", { class: "hint", text: "wrong with confidence ≥ " + pct(D.thresholds.high_conf) }));
      if (k === "lcc" && D.thresholds) sec.append(el("p", { class: "hint", text: "correct with confidence < " + pct(D.thresholds.low_conf) }));
      const tiles = el("div", { class: "tiles", dataset: { list: k } });
      sec.append(tiles);
      box.append(sec);
    }
    // Faithfulness ranking
    const fsec = el("section", { class: "list" }, el("h3", { text: "Faithfulness ranking of CAM methods" }));
    const F = D.lists && D.lists.faithfulness;
    if (F && F.length) {
      const t = el("table", { class: "table", id: "faithfulness" },
                   el("tr", {}, el("th", { text: "rank" }), el("th", { text: "method" }), el("th", { text: "layer" }),
                      el("th", { text: "mean rank" }), el("th", { text: "maps" }), el("th", { text: "degenerate" })));
      F.forEach((x, i) => t.append(el("tr", {}, el("td", { class: "num", text: String(i + 1) }), el("td", { text: x.method }),
                                      el("td", { text: x.layer }), el("td", { class: "num", text: x.mean_rank === null || x.mean_rank === undefined ? "not ranked" : Number(x.mean_rank).toFixed(2) }),
                                      el("td", { class: "num", text: String(x.maps) }), el("td", { class: "num", text: String(x.degenerate) }))));
      fsec.append(t);
    } else fsec.append(el("p", { class: "hint", text: "the faithfulness check was not run (or the data predates it)" }));
    box.append(fsec);
    // Degenerate maps
    const dsec = el("section", { class: "list" }, el("h3", { text: "Degenerate CAMs (no positive evidence)" }));
    const dg = degenerateCounts();
    if (dg) {
      dsec.append(el("p", {}, el("span", { text: dg.degenerate + " of " + dg.maps + " predicted-class maps are degenerate. " }),
                     D.rows.blank ? gridLink("show them", { deg: 1 }) : null));
      const by = (D.lists && D.lists.degenerate && D.lists.degenerate.by_pred_class) || [];
      const top = by.filter((x) => x.degenerate > 0).sort((a, b) => b.degenerate - a.degenerate || a.cls - b.cls).slice(0, 15);
      if (top.length) {
        const t = el("table", { class: "table", id: "degenerate-by-class" },
                     el("tr", {}, el("th", { text: "predicted class" }), el("th", { text: "degenerate" }), el("th", { text: "maps" })));
        for (const x of top)
          t.append(el("tr", { class: "link", tabindex: "0", role: "link", onclick: () => go(hashOf("grid", new URLSearchParams({ p: x.cls, deg: 1 }))) },
                      el("td", { text: name(x.cls) }), el("td", { class: "num", text: String(x.degenerate) }), el("td", { class: "num", text: String(x.maps) })));
        dsec.append(t);
      }
    } else dsec.append(el("p", { class: "hint", text: "no CAM health data" }));
    box.append(dsec);
    refreshListTiles();
  }
  function refreshListTiles() {
    for (const node of document.querySelectorAll("#lists .tiles[data-list]")) {
      const q = new URLSearchParams(listParams(node.dataset.list));
      clear(node);
      const rows = filterRows(q).slice(0, 16), sp = spriteOk(rows);
      for (const r of rows) node.append(tile(r, q, null, sp));
      const t = node.querySelector(".tile");
      if (t) t.tabIndex = 0;
    }
  }

  // ------------------------------------------------------------------ image view
  let camSeq = 0, imageRow = -1, imageQuery = new URLSearchParams(), imageList = [];
  const PERTURB = { scorecam: "Score-CAM", ablationcam: "Ablation-CAM" };

  function layerInfo(path) { return (D.layers || []).find((l) => l.path === path); }
  function imageSettings() {
    const q = new URLSearchParams(filterParams(imageQuery));
    const t = $("target-select").value, m = $("method-select").value, l = $("layer-select").value;
    if (t && t !== "pred") q.set("target", t);
    if (LIVE && m !== D.default_method) q.set("method", m);
    if (LIVE && l !== D.default_layer) q.set("layer", l);
    if ($("opacity").value !== "0.5") q.set("op", $("opacity").value);
    if ($("heat-only").checked) q.set("heat", "1");
    if ($("zoom").value !== "1") q.set("zoom", $("zoom").value);
    if (!$("mc-label").hidden && $("mc-input").value) q.set("mc", $("mc-input").value);
    return q;
  }
  function saveImageState() {
    imageQuery = imageSettings();
    replaceHash(hashOf("image/" + imageRow, imageQuery));
  }
  // The CAM: served, the server's JET heatmap at the input size (api/cam?...&view=heatmap, no image
  // blended) over the input image with CSS opacity α, i.e. α·heatmap + (1−α)·image: pytorch-grad-cam's
  // show_cam_on_image with image_weight = 1 − α, without its final division by the peak (so α = 0.5
  // is the PNG overlay's blend, a little darker); "heatmap only" hides the image. Offline, or from a server without the heatmap view
  // (its answer lacks "view": "heatmap"), the blended overlay PNG is shown as it is and the
  // slider and the toggle are hidden.
  let HEATVIEW = null;  // null: not yet known; true: the server draws heatmaps
  function applyStage() {
    const z = +$("zoom").value || 1, base = 320;
    const st = $("stage");
    st.style.width = base * z + "px";
    st.style.height = base * z + "px";
    const blend = LIVE && HEATVIEW !== false;
    $("opacity-label").hidden = $("heat-label").hidden = !blend;
    const heat = blend && $("heat-only").checked;
    $("cam-img").style.opacity = blend ? (heat ? "1" : $("opacity").value) : "1";
    $("image-input").style.visibility = heat ? "hidden" : "visible";
    $("colorbar-note").textContent = blend ? "CAM opacity α: α·heatmap + (1−α)·image" : "";
  }

  function showImage(r, q) {
    const x = rowInfo(r);
    imageRow = r;
    imageQuery = q;
    imageList = filterRows(q);
    let pos = imageList.indexOf(r);
    const fq = filterParams(q);
    $("img-back").href = "#" + hashOf("grid", (() => {
      const g = new URLSearchParams(fq);
      if (pos >= 0) { const p = Math.floor(pos / pageSize(fq)); if (p) g.set("page", String(p + 1)); }
      return g;
    })());
    $("img-pos").textContent = pos >= 0 ? (pos + 1) + " of " + imageList.length + " (" + describeFilter(q) + ")" : "not in the list";
    $("img-prev").disabled = pos <= 0;
    $("img-next").disabled = pos < 0 || pos >= imageList.length - 1;
    $("image-title").textContent = "Image #" + x.index + " (row " + r + ")";
    const iu = inputUrl(r);
    for (const img of [$("image-input"), ...document.querySelectorAll("#dual-view img.under")])
      if (iu) img.src = iu; else img.removeAttribute("src");
    const labels = clear($("image-labels"));
    const pt = pTrue(r);
    labels.append(el("span", { text: "true: " + name(x.label) + " — predicted: " + name(x.pred) + " (" + pct(x.conf) + ")" +
                                     (!x.correct && pt !== null ? ", p(true) " + pct(pt) : "") + " " }),
                  el("b", { class: x.correct ? "" : "error", text: x.correct ? "correct" : "misclassified" }),
                  " ", el("a", { href: "#class/" + x.label, text: "class " + name(x.label) }));
    const flags = flagOf(r);
    for (const k of ["label", "hce", "lcc"]) if (flags & flagBits[k]) labels.append(" ", el("span", { class: "chip flag", text: flagNames[k] }));
    // CAM controls: any target class, method and layer when served; the precomputed maps offline.
    const ts = clear($("target-select")), ms = clear($("method-select")), ls = clear($("layer-select"));
    ts.append(el("option", { value: "pred", text: "predicted: " + name(x.pred) }),
              el("option", { value: "true", text: "true: " + name(x.label) }));
    for (let c = 0; c < K; ++c) ts.append(el("option", { value: String(c), text: c + ": " + name(c) }));
    const methods = LIVE ? D.methods : [D.run.method];
    for (const m of methods) ms.append(el("option", { value: m, text: m }));
    const layers = LIVE ? D.layers : [{ path: D.run.layer, shape: [] }];
    for (const l of layers)
      ls.append(el("option", { value: l.path, text: l.path + (l.shape.length ? " (" + l.shape.slice(1).join("×") + ")" : "") }));
    const want = (sel, v, dflt) => { sel.value = v !== null && [...sel.options].some((o) => o.value === v && !o.disabled) ? v : dflt; };
    want(ms, LIVE ? q.get("method") : null, LIVE ? D.default_method : D.run.method);
    want(ls, LIVE ? q.get("layer") : null, LIVE ? D.default_layer : D.run.layer);
    if (!LIVE) for (const o of ts.options) o.disabled = !(o.value === "pred" || o.value === "true");
    want(ts, q.get("target"), "pred");
    ms.disabled = ls.disabled = !LIVE;
    ts.disabled = !LIVE && x.correct;
    const op = numParam(q, "op");
    $("opacity").value = op !== null && op >= 0 && op <= 1 ? String(op) : "0.5";
    $("heat-only").checked = LIVE && q.get("heat") === "1";
    want($("zoom"), q.get("zoom"), "1");
    $("mc-input").value = intParam(q, "mc", 1, 1 << 20) || "";
    applyStage();
    // Top-k: each class is a button that makes it the CAM target.
    const top = clear($("image-top"));
    top.append(el("tr", {}, el("th", { text: "class" }), el("th", { text: "probability" }), el("th", {})));
    D.rows.top[r].forEach((c, i) => {
      const p = D.rows.top_p[r][i];
      const b = el("button", { type: "button", class: "linkish", text: name(c), disabled: !LIVE && c !== x.pred && c !== x.label,
                               "aria-label": "show the CAM of " + name(c) });
      b.addEventListener("click", () => {
        ts.value = !LIVE ? (c === x.pred ? "pred" : "true") : String(c);
        onCamChange();
      });
      top.append(el("tr", { dataset: { cls: String(c) } }, el("td", {}, b), el("td", { class: "num", text: pct(p) }),
                    el("td", {}, el("span", { class: "bar", style: "width:" + Math.round(120 * p) + "px" }))));
    });
    showImageTags();
    updateCam();
    $("dual-view").hidden = x.correct;
  }
  function onCamChange() { saveImageState(); updateCam(); }
  function imageStep(d) {
    // from the fragment's row: a key pressed before the hashchange was handled still steps once more
    const h = parseHash();
    const cur = h.view === "image" && /^\d+$/.test(h.args[0] || "") ? +h.args[0] : imageRow;
    const pos = imageList.indexOf(cur);
    if (pos < 0) return;
    const j = pos + d;
    if (j < 0 || j >= imageList.length) return;
    go(hashOf("image/" + imageList[j], imageSettings()));
  }
  function showImageTags() {
    const t = Tags.get(imageRow);
    for (const b of document.querySelectorAll("#image-tags button[data-tag]")) b.setAttribute("aria-pressed", t.includes(b.dataset.tag) ? "true" : "false");
    const list = clear($("image-tag-list"));
    if (!t.length) list.append("no tags");
    for (const x of t)
      list.append(el("span", { class: "chip" }, el("span", { text: x + " " }),
                     el("button", { type: "button", class: "x", "aria-label": "remove tag " + x, text: "×",
                                    onclick: () => tagImage(() => Tags.set(imageRow, Tags.get(imageRow).filter((y) => y !== x))) })), " ");
    $("tags-mode").textContent = Tags.describe();
  }
  async function tagImage(fn) {
    try { await fn(); } catch (e) { $("tags-mode").textContent = "tagging failed: " + e.message; return; }
    showImageTags();
  }
  function updateCostNote() {
    const m = $("method-select").value;
    const perturb = LIVE && PERTURB[m];
    $("mc-label").hidden = !perturb;
    $("cost-note").hidden = !perturb;
    if (perturb) {
      const l = layerInfo($("layer-select").value);
      const ch = l && l.shape && l.shape.length >= 2 ? l.shape[1] : null;
      const cap = +D.max_channels || 0;  // the server's cap (serve --max-channels; 0: none)
      let mc = +$("mc-input").value || 0;
      if (cap && (!mc || mc > cap)) mc = cap;
      $("mc-input").placeholder = cap ? "at most " + cap : "all";
      const n = mc && ch ? Math.min(mc, ch) : (mc || ch);
      $("cost-note").textContent = PERTURB[m] + " runs one extra forward pass per channel of the layer" +
        (ch ? " (" + ch + " channels here)" : "") + ", so it is much slower than gradient methods" +
        (n ? ": about " + n + " forward passes per map" : "") + ". 'max channels' keeps only the most active channels (faster, approximate)" +
        (cap ? "; this server uses at most " + cap + "." : ".");
    }
  }
  // A live CAM: while the server's CAM queue is full (503) asked again after its Retry-After, a few
  // times; `signal` aborts it when a newer request replaces it (the server then drops it unstarted).
  async function fetchCam(url, signal) {
    for (let tries = 0; ; tries++) {
      const res = await fetch(url, { signal });
      if (res.status !== 503 || tries >= 4) return res;
      const wait = Math.min(10, +res.headers.get("Retry-After") || 1);
      await new Promise((ok) => setTimeout(ok, 1000 * wait));
      if (signal.aborted) throw new DOMException("replaced", "AbortError");
    }
  }
  let camAbort = null, dualAbort = null;

  async function updateCam() {
    const r = imageRow, x = rowInfo(r);
    updateCostNote();
    const target = $("target-select").value, method = $("method-select").value, layer = $("layer-select").value;
    const mc = !$("mc-label").hidden ? +$("mc-input").value || 0 : 0;
    const img = $("cam-img"), stats = $("cam-stats"), err = $("cam-error"), blankNote = $("cam-blank");
    const tcls = target === "pred" ? x.pred : target === "true" ? x.label : Number(target);
    $("cam-caption").textContent = method + " at " + layer + " for class '" + name(tcls) + "'" +
                                   " — the CAM over the image; opacity 0 shows the image alone";
    for (const tr of $("image-top").rows) tr.classList.toggle("target", tr.dataset.cls === String(tcls));
    err.hidden = true;
    blankNote.hidden = true;
    const showBlank = () => { blankNote.textContent = noEvidence(tcls, layer); blankNote.hidden = false; };
    const base = camUrl(r, target, method, layer, mc);
    const url = base && LIVE && HEATVIEW !== false ? base + "&view=heatmap" : base;
    if (!url) {
      img.removeAttribute("src");
      stats.textContent = "no precomputed CAM for this image in the offline copy";
      return;
    }
    if (!LIVE) {
      img.src = url;
      const blank = (blankBits(r) & (target === "true" ? 2 : 1)) !== 0;
      if (blank) showBlank();
      stats.textContent = "precomputed " + D.run.method + " map" + (blank ? ": all zero after ReLU (hatched: nothing to show)" : "");
      img.dataset.fingerprint = url;
      if (!x.correct) updateDual();
      return;
    }
    const seq = ++camSeq;
    if (camAbort) camAbort.abort();  // the previous image's CAM, if still waiting: not wanted now
    const ctl = camAbort = new AbortController();
    img.dataset.loading = "1";
    stats.textContent = "computing…";
    try {
      const t0 = performance.now();
      const res = await fetchCam(url, ctl.signal);
      if (!res.ok) {
        const body = await res.json().catch(() => ({ error: res.statusText }));
        throw new Error(body.error || res.statusText);
      }
      const info = JSON.parse(res.headers.get("X-Camscope-Cam") || "{}");
      const blob = await res.blob();
      if (seq !== camSeq) return;  // a newer request replaced this one
      setBlob(img, blob);
      img.dataset.fingerprint = info.fingerprint || "";
      img.dataset.target = String(info.target);
      img.dataset.degenerate = info.degenerate ? "1" : "0";
      img.dataset.view = info.view || "overlay";
      if (HEATVIEW === null) { HEATVIEW = info.view === "heatmap"; applyStage(); }
      const ms = "; answered in " + Math.round(performance.now() - t0) + " ms";
      if (info.degenerate) {
        showBlank();
        stats.textContent = "class " + info.target_name + " (p = " + pct(info.prob) + "), map " + info.fh + "×" +
                            info.fw + ": all zero after ReLU, nothing at this layer raises the class score " +
                            "(hatched: nothing to show)" + ms;
      } else {
        stats.textContent = "class " + info.target_name + " (p = " + pct(info.prob) + "), map " + info.fh + "×" +
                            info.fw + ", peak at row " + info.peak[0] + ", col " + info.peak[1] + ", mean " + info.mean + ms;
      }
    } catch (e) {
      if (seq !== camSeq) return;
      err.textContent = "CAM failed: " + e.message;
      err.hidden = false;
      stats.textContent = "";
    } finally {
      if (seq === camSeq) delete img.dataset.loading;
    }
    if (!x.correct) updateDual();  // follows the method and layer (unchanged URLs do not reload)
  }
  // The dual view: the run's flags offline, the server's X-Camscope-Cam header when served (any
  // method and layer), so a blank map is named as such under its picture. Each map lies over the
  // image; the difference map (white = no difference) is drawn translucent over it.
  let dualSeq = 0;
  async function updateDual() {
    const r = imageRow, x = rowInfo(r);
    const m = $("method-select").value, l = $("layer-select").value;
    const mc = !$("mc-label").hidden ? +$("mc-input").value || 0 : 0;
    const seq = ++dualSeq;
    if (dualAbort) dualAbort.abort();
    const ctl = dualAbort = new AbortController();
    const parts = [["dual-true", camUrl(r, "true", m, l, mc), x.label, "true class: " + name(x.label), 2],
                   ["dual-pred", camUrl(r, "pred", m, l, mc), x.pred, "predicted class: " + name(x.pred), 1],
                   ["dual-diff", diffUrl(r, m, l, mc), -1, "difference: predicted − true (red: predicted higher, blue: true higher)", 3]];
    const e = !LIVE && D.images && D.images[r];
    const finerUrl = LIVE ? "api/cam?image=" + r + "&target=pred&method=finercam&contrast=true" +
                            (l ? "&layer=" + encodeURIComponent(l) : "")
                          : (e && e.finer) || null;  // offline: the confused-pair sheets' errors only
    const finerOn = $("finer-toggle").checked && !!finerUrl;
    $("dual-finer-fig").hidden = !finerOn;
    if (finerOn) {
      const blank = !LIVE && (D.finer_blank || []).includes(r);
      parts.push(["dual-finer", finerUrl, x.pred, "Finer-CAM: why '" + name(x.pred) + "' and not '" + name(x.label) + "'",
                  blank ? -1 : 0]);
    }
    for (const [id, url, cls, text, bit] of parts) {
      const img = $(id), cap = $(id + "-caption");
      cap.textContent = text;
      cap.classList.remove("noev-cap");
      if (!url) { img.removeAttribute("src"); continue; }
      let blank = false;
      if (LIVE) {
        try {
          const res = await fetchCam(url, ctl.signal);
          if (!res.ok) throw new Error(res.statusText);
          const info = JSON.parse(res.headers.get("X-Camscope-Cam") || "{}");
          const blob = await res.blob();
          if (seq !== dualSeq) return;  // a newer update replaced this one
          setBlob(img, blob);
          blank = info.degenerate === true;
        } catch (err) {
          if (seq !== dualSeq) return;
          img.removeAttribute("src");
          cap.textContent = text + " (failed: " + err.message + ")";
          continue;
        }
      } else {
        img.src = url;
        blank = bit < 0 || (blankBits(r) & bit) !== 0;
      }
      if (blank) {
        cap.textContent = cls < 0 ? "no difference shown: a map has no positive evidence at " + l : text + " — " + noEvidence(cls, l);
        cap.classList.add("noev-cap");
      }
    }
  }

  // ------------------------------------------------------------------ navigation
  function route() {
    const { view: v, args, q } = parseHash();
    let view = "overview";
    const idx = (s, n) => (s !== undefined && /^\d+$/.test(s) && +s < n ? +s : -1);
    try {
      if (v === "class" && args.length === 1 && idx(args[0], K) >= 0) {
        showClass(+args[0]);
        view = "class";
      } else if (v === "cell" && args.length === 2 && idx(args[0], K) >= 0 && idx(args[1], K) >= 0) {
        // old links: a confusion cell is the grid filtered to it
        location.replace("#" + hashOf("grid", new URLSearchParams({ t: args[0], p: args[1], sort: "conf", dir: "desc" })));
        return;
      } else if (v === "grid") {
        showGrid(q);
        view = "grid";
      } else if (v === "lists") {
        showLists();
        view = "lists";
      } else if (v === "image" && args.length === 1 && idx(args[0], N) >= 0) {
        showImage(+args[0], q);
        view = "image";
      } else {
        showOverview();
      }
    } catch (e) {
      fatal(e);
      return;
    }
    if (view !== "class" && !(view === "grid" && intParam(q, "t", 0, K) !== null)) $("class-select").value = "";
    const prev = document.body.dataset.view;
    for (const x of ["overview", "class", "grid", "lists", "image"]) $("view-" + x).hidden = x !== view;
    for (const a of document.querySelectorAll("header nav a")) a.removeAttribute("aria-current");
    const nav = { overview: "nav-overview", grid: "nav-grid", lists: "nav-lists" }[view];
    if (nav) $(nav).setAttribute("aria-current", "page");
    document.body.dataset.view = view;
    $("tooltip").hidden = true;
    $("search-msg").hidden = true;
    if (!(view === "image" && prev === "image") && !(view === "grid" && prev === "grid")) window.scrollTo(0, 0);
  }

  function fatal(e) {
    $("loading").hidden = true;
    $("fatal").textContent = "camscope explorer: " + (e && e.message ? e.message : e);
    $("fatal").hidden = false;
  }

  function setupImageControls() {
    for (const id of ["target-select", "method-select", "layer-select"]) $(id).addEventListener("change", onCamChange);
    $("mc-input").addEventListener("change", onCamChange);
    $("opacity").addEventListener("input", () => { applyStage(); saveImageState(); });
    $("heat-only").addEventListener("change", () => { applyStage(); saveImageState(); });
    $("zoom").addEventListener("change", () => { applyStage(); saveImageState(); });
    $("finer-toggle").addEventListener("change", () => updateDual());
    $("img-prev").addEventListener("click", () => imageStep(-1));
    $("img-next").addEventListener("click", () => imageStep(1));
    for (const b of document.querySelectorAll("#image-tags button[data-tag]"))
      b.addEventListener("click", () => tagImage(() => Tags.toggle([imageRow], b.dataset.tag)));
    $("image-tag-add").addEventListener("click", () => {
      const t = $("image-tag-text").value.trim();
      if (!validTag(t)) { $("tags-mode").textContent = "a tag is 1–40 characters of letters, digits, space, _ and -"; return; }
      $("image-tag-text").value = "";
      tagImage(() => Tags.toggle([imageRow], t, true));
    });
    document.addEventListener("keydown", (e) => {
      if (document.body.dataset.view !== "image" || editing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "ArrowRight" || e.key === "j") { e.preventDefault(); imageStep(1); }
      else if (e.key === "ArrowLeft" || e.key === "k") { e.preventDefault(); imageStep(-1); }
    });
  }

  function start(data, live) {
    D = data;
    LIVE = live;
    K = D.classes.length;
    N = D.rows.label.length;
    $("loading").hidden = true;
    const r = D.run;
    $("run-info").textContent = r.model_path + " on " + r.dataset_name + " (" + r.split + "): " + r.n + " images, " +
                                K + " classes; CAM " + r.method + " at " + r.layer;
    const warn = $("cam-warning");
    if (D.cam_health && D.cam_health.warning && D.cam_health.warning.length) {
      for (const line of D.cam_health.warning) warn.append(el("p", { text: line }));
      warn.hidden = false;
    }
    const notice = $("mode-notice"), live_notice = $("live-notice");
    if (!LIVE) {
      const text = "Offline copy: the CAMs of the predicted and true class (" + r.method + " at " + r.layer +
                   ") were precomputed. Live CAMs for any class, method and layer need the server: " +
                   "camscope serve --model MODEL --data DATA --results <this report folder>";
      notice.textContent = text;
      notice.hidden = false;
      live_notice.textContent = text;
      live_notice.hidden = false;
    }
    const sel = $("class-select"), list = $("class-list");
    D.per_class.forEach((x) => {
      sel.append(el("option", { value: String(x.index), text: x.index + ": " + x.name }));
      list.append(el("option", { value: x.name }));
    });
    sel.addEventListener("change", () => { if (sel.value !== "") go("class/" + sel.value); });
    const search = $("class-search"), msg = $("search-msg");
    const find = (q) => {
      q = q.trim().toLowerCase();
      if (!q) return -1;
      let c = D.classes.findIndex((n) => n.toLowerCase() === q);
      if (c < 0) c = D.classes.findIndex((n) => n.toLowerCase().includes(q));
      return c;
    };
    const doSearch = () => {
      const c = find(search.value);
      if (c >= 0) { msg.hidden = true; go("class/" + c); return; }
      if (search.value.trim()) { msg.textContent = "no class matches “" + search.value.trim() + "”"; msg.hidden = false; }
    };
    search.addEventListener("change", doSearch);
    search.addEventListener("keydown", (e) => { if (e.key === "Enter") doSearch(); });
    search.addEventListener("input", () => { msg.hidden = true; });
    setupImageControls();
    tileKeys($("gallery-worst"));
    tileKeys($("gallery-best"));
    window.addEventListener("hashchange", route);
    Tags.load().catch(() => {}).then(() => {
      route();
      document.body.dataset.ready = LIVE ? "live" : "offline";
      window.CAMSCOPE_FIRST_RENDER_MS = performance.now();
    });
  }

  if (window.CAMSCOPE_DATA) {
    start(window.CAMSCOPE_DATA, false);
  } else {
    Tags.pending = fetch("api/tags").catch(() => null);  // in parallel with the data
    fetch("api/explorer")
      .then((res) => { if (!res.ok) throw new Error("api/explorer answered " + res.status); return res.json(); })
      .then((data) => start(data, true))
      .catch(fatal);
  }
})();

// camscope explorer. One script for both modes:
//  - served (`camscope serve`): the data comes from api/explorer, images and CAMs from the API
//    (any target class, method and layer, computed live);
//  - offline (<report>/explorer/index.html opened from disk): data.js defines
//    window.CAMSCOPE_DATA (fetch() is blocked on file://) and the precomputed overlays are in img/.
// Views are chosen by the URL fragment (#overview, #class/3, #cell/3/5, #image/12), so the back
// button and links work in both modes. Text from the data is inserted as text, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  let D = null;          // the explorer data (schema in src/camscope/report/explorer.hpp)
  let LIVE = false;      // served: live CAMs available
  let K = 0;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  const pct = (v) => (v === null || v === undefined || !isFinite(v) ? "–" : (100 * v).toFixed(1) + "%");
  const name = (c) => D.classes[c];
  const clear = (node) => { while (node.firstChild) node.removeChild(node.firstChild); return node; };

  // ------------------------------------------------------------------ image URLs per mode
  function inputUrl(row) {
    if (LIVE) return "api/image/" + row + "/input.png";
    const e = D.images && D.images[row];
    return e && e.input ? e.input : null;
  }
  function camUrl(row, target, method, layer) {
    if (LIVE) {
      let u = "api/cam?image=" + row + "&target=" + encodeURIComponent(target);
      if (method) u += "&method=" + encodeURIComponent(method);
      if (layer) u += "&layer=" + encodeURIComponent(layer);
      return u;
    }
    const e = D.images && D.images[row];
    if (!e) return null;
    const which = target === "true" ? "true" : "pred";
    return e[which] || (which === "true" && rowInfo(row).correct ? e.pred : null);
  }
  function diffUrl(row, method, layer) {
    if (LIVE)
      return "api/diff?image=" + row + "&method=" + encodeURIComponent(method) + "&layer=" + encodeURIComponent(layer);
    const e = D.images && D.images[row];
    return e ? e.diff || null : null;
  }
  // D.rows.blank[r]: bit 1 = the predicted-class CAM of the run's method and layer has no positive
  // evidence, bit 2 = the true-class CAM (0 for data written before the field existed). Such a map is
  // served and stored as the hatched grey stand-in, never as a flat overlay; the pages say why.
  function blankBits(r) { return D.rows.blank ? D.rows.blank[r] || 0 : 0; }
  function noEvidence(cls, layer) { return "no positive evidence for " + name(cls) + " at " + layer; }
  function setBlob(img, blob) {
    const old = img.src;
    img.src = URL.createObjectURL(blob);
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  }

  function rowInfo(r) {
    const R = D.rows;
    return { row: r, index: R.index[r], label: R.label[r], pred: R.pred[r], conf: R.conf[r],
             correct: R.label[r] === R.pred[r] };
  }

  // ------------------------------------------------------------------ shared widgets
  function kpi(label, value) { return el("div", { class: "kpi" }, el("b", { text: value }), el("span", { text: label })); }

  function thumb(r) {
    const x = rowInfo(r);
    const pics = el("div", { class: "pics" });
    const iu = inputUrl(r), cu = camUrl(r, "pred", D.run.method, D.run.layer);
    pics.append(iu ? el("img", { class: "input", src: iu, alt: "image " + x.index, loading: "lazy" })
                   : el("span", { class: "hint", text: "no image" }));
    pics.append(cu ? el("img", { class: "cam", src: cu, alt: "CAM of " + name(x.pred), loading: "lazy" })
                   : el("span", { class: "hint", text: "no CAM in the offline copy" }));
    const cap = el("div", { class: "cap " + (x.correct ? "right" : "wrong"),
                            text: "#" + x.index + " " + name(x.label) + (x.correct ? " ✓ " : " → " + name(x.pred) + " ") +
                                  pct(x.conf) });
    const blank = blankBits(r) & 1 ? el("div", { class: "noev", text: noEvidence(x.pred, D.run.layer) }) : null;
    return el("div", { class: "thumb", dataset: { row: String(r) }, onclick: () => go("image/" + r) }, pics, cap, blank);
  }

  function gallery(node, rows, emptyText) {
    clear(node);
    if (!rows.length) node.append(el("p", { class: "hint", text: emptyText }));
    for (const r of rows) node.append(thumb(r));
  }

  function pairRow(t, p, count, rate) {
    return el("tr", { class: "link", onclick: () => go("cell/" + t + "/" + p) },
              el("td", { text: name(t) }), el("td", { text: name(p) }),
              el("td", { class: "num", text: String(count) }), el("td", { class: "num", text: pct(rate) }));
  }

  // ------------------------------------------------------------------ overview
  let overviewBuilt = false;
  function showOverview() {
    if (overviewBuilt) return;
    overviewBuilt = true;
    const o = D.overall, c = D.calibration;
    const k = $("kpis");
    k.append(kpi("top-1 accuracy", pct(o.top1)), kpi("top-" + o.top5_k + " accuracy", pct(o.top5)),
             kpi("images", String(D.run.n)), kpi("errors", String(o.errors)),
             kpi("mean confidence", pct(o.mean_confidence)), kpi("ECE", pct(c.ece)), kpi("MCE", pct(c.mce)),
             kpi("temperature", c.temperature.toFixed(2)), kpi("ECE at T", pct(c.ece_after)));
    buildConfusion();
    const pairs = $("pairs");
    pairs.append(el("tr", {}, el("th", { text: "true" }), el("th", { text: "predicted" }), el("th", { text: "count" }),
                    el("th", { text: "rate" })));
    for (const p of D.pairs.slice(0, 15)) pairs.append(pairRow(p.true, p.pred, p.count, p.rate));
    if (!D.pairs.length) pairs.append(el("tr", {}, el("td", { colspan: "4", text: "no errors" })));
    buildCalibration();
    const weak = $("weakest");
    weak.append(el("tr", {}, el("th", { text: "class" }), el("th", { text: "accuracy" }), el("th", { text: "support" })));
    const cls = D.per_class.filter((x) => x.support > 0).sort((a, b) => a.accuracy - b.accuracy || b.support - a.support);
    for (const x of cls.slice(0, 10))
      weak.append(el("tr", { class: "link", onclick: () => go("class/" + x.index) }, el("td", { text: x.name }),
                     el("td", { class: "num", text: pct(x.accuracy) }), el("td", { class: "num", text: String(x.support) })));
  }

  function buildConfusion() {
    const order = D.confusion.order, counts = D.confusion.counts;
    const support = D.per_class.map((x) => x.support);
    const dense = K > 30;
    const box = $("confusion");
    if (dense) box.classList.add("dense");
    const table = el("table", { id: "confusion-table" });
    const head = el("tr", {}, el("th", {}));
    for (const p of order) head.append(el("th", { class: "col", text: dense ? "" : name(p) }));
    table.append(head);
    const tip = $("tooltip");
    for (const t of order) {
      const tr = el("tr", {}, el("th", { class: "row", text: dense ? "" : name(t) }));
      for (const p of order) {
        const n = counts[t][p], rate = support[t] ? n / support[t] : 0;
        const a = n ? 0.12 + 0.88 * Math.sqrt(rate) : 0;
        const bg = n ? (t === p ? "rgba(40,90,200," + a + ")" : "rgba(200,30,30," + a + ")") : "#fff";
        const text = name(t) + " → " + name(p) + ": " + n + " image" + (n === 1 ? "" : "s") +
                     " (" + pct(rate) + " of " + name(t) + ")";
        const td = el("td", { class: "cell", style: "background:" + bg + (a > 0.6 ? ";color:#fff" : ""),
                              dataset: { t: String(t), p: String(p), count: String(n) }, title: "",
                              text: dense || !n ? "" : String(n) });
        td.addEventListener("mouseenter", (ev) => {
          $("cell-info").textContent = text;
          tip.textContent = (t === p ? "correct: " : "true " + name(t) + "\npredicted " + name(p) + "\n") +
                            (t === p ? name(t) + "\n" : "") + n + " images, " + pct(rate) + " of the class";
          tip.hidden = false;
          tip.style.left = ev.clientX + 14 + "px";
          tip.style.top = ev.clientY + 14 + "px";
        });
        td.addEventListener("mousemove", (ev) => { tip.style.left = ev.clientX + 14 + "px"; tip.style.top = ev.clientY + 14 + "px"; });
        td.addEventListener("mouseleave", () => { tip.hidden = true; });
        td.addEventListener("click", () => { tip.hidden = true; go("cell/" + t + "/" + p); });
        tr.append(td);
      }
      table.append(tr);
    }
    box.append(table);
  }

  function buildCalibration() {
    const c = D.calibration, W = 260, H = 200, P = 28;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", W + P + 10);
    svg.setAttribute("height", H + P + 10);
    svg.setAttribute("id", "reliability");
    const add = (tag, attrs, text) => {
      const e = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    const X = (v) => P + v * W, Y = (v) => 5 + (1 - v) * H;
    add("rect", { x: X(0), y: Y(1), width: W, height: H, fill: "#fff", stroke: "#ccc" });
    for (const b of c.bins) {
      if (!b.count) continue;
      add("rect", { x: X(b.lower) + 1, y: Y(b.accuracy), width: (b.upper - b.lower) * W - 2,
                    height: H * b.accuracy, fill: "#3367d6", opacity: 0.8 }).append(
        Object.assign(document.createElementNS(ns, "title"),
                      { textContent: "confidence " + pct(b.lower) + "–" + pct(b.upper) + ": " + b.count +
                                     " images, accuracy " + pct(b.accuracy) + ", mean confidence " + pct(b.confidence) }));
    }
    add("line", { x1: X(0), y1: Y(0), x2: X(1), y2: Y(1), stroke: "#b00020", "stroke-dasharray": "4 3" });
    add("text", { x: X(0.5), y: H + P, "text-anchor": "middle" }, "confidence");
    add("text", { x: 10, y: Y(0.5), transform: "rotate(-90 10 " + Y(0.5) + ")", "text-anchor": "middle" }, "accuracy");
    for (const v of [0, 0.5, 1]) add("text", { x: X(v), y: H + 17, "text-anchor": "middle" }, String(v));
    const box = $("calibration");
    box.append(svg, el("p", { class: "hint",
      text: "ECE " + pct(c.ece) + ", MCE " + pct(c.mce) + "; temperature scaling (T = " + c.temperature.toFixed(2) +
            ") gives ECE " + pct(c.ece_after) + ". Bars below the dashed line: over-confident." }));
  }

  // ------------------------------------------------------------------ class view
  function showClass(c) {
    const x = D.per_class[c];
    $("class-select").value = String(c);
    $("class-title").textContent = "Class " + c + ": " + x.name;
    clear($("class-kpis")).append(kpi("accuracy (recall)", pct(x.accuracy)), kpi("precision", pct(x.precision)),
                                  kpi("F1", pct(x.f1)), kpi("support", String(x.support)),
                                  kpi("predicted as it", String(x.predicted)), kpi("mean confidence", pct(x.mean_confidence)));
    const g = D.galleries[c];
    gallery($("gallery-worst"), g.worst, "no errors on this class");
    gallery($("gallery-best"), g.best, "no correct predictions of this class");
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

  // ------------------------------------------------------------------ confusion cell view
  function showCell(t, p) {
    const R = D.rows, rows = [];
    for (let i = 0; i < R.label.length; ++i) if (R.label[i] === t && R.pred[i] === p) rows.push(i);
    rows.sort((a, b) => R.conf[b] - R.conf[a] || a - b);
    $("cell-title").textContent = (t === p ? name(t) + " predicted correctly" : name(t) + " predicted as " + name(p)) +
                                  ": " + rows.length + " image" + (rows.length === 1 ? "" : "s");
    let shown = rows.slice(0, 60), note = rows.length > 60 ? "The 60 most confident are shown." : "";
    if (!LIVE) {
      shown = rows.filter((r) => D.images[r]).slice(0, 60);
      if (shown.length < rows.length)
        note = shown.length + " of them are in the offline copy (the most confident of each cell); " +
               "`camscope serve` shows them all.";
    }
    $("cell-note").textContent = note;
    gallery($("cell-gallery"), shown, "no images");
  }

  // ------------------------------------------------------------------ image view
  let camSeq = 0;
  function showImage(r) {
    const x = rowInfo(r);
    $("image-title").textContent = "Image #" + x.index + " (row " + r + ")";
    const iu = inputUrl(r);
    const input = $("image-input");
    if (iu) input.src = iu; else input.removeAttribute("src");
    const labels = clear($("image-labels"));
    labels.append(el("span", { text: "true: " + name(x.label) + " — predicted: " + name(x.pred) + " (" + pct(x.conf) + ") " }),
                  el("b", { class: x.correct ? "" : "error", text: x.correct ? "correct" : "misclassified" }),
                  " ", el("a", { href: "#class/" + x.label, text: "class " + name(x.label) }));
    const top = clear($("image-top"));
    top.append(el("tr", {}, el("th", { text: "class" }), el("th", { text: "probability" }), el("th", {})));
    D.rows.top[r].forEach((c, i) => {
      const p = D.rows.top_p[r][i];
      top.append(el("tr", {}, el("td", { text: name(c) }), el("td", { class: "num", text: pct(p) }),
                    el("td", {}, el("span", { class: "bar", style: "width:" + Math.round(120 * p) + "px" }))));
    });
    // CAM controls: any target class, method and layer when served; the precomputed maps offline.
    const ts = clear($("target-select")), ms = clear($("method-select")), ls = clear($("layer-select"));
    ts.append(el("option", { value: "pred", text: "predicted: " + name(x.pred) }),
              el("option", { value: "true", text: "true: " + name(x.label) }));
    for (let c = 0; c < K; ++c) ts.append(el("option", { value: String(c), text: c + ": " + name(c) }));
    const methods = LIVE ? D.methods : [D.run.method];
    for (const m of methods) ms.append(el("option", { value: m, text: m }));
    ms.value = LIVE ? D.default_method : D.run.method;
    const layers = LIVE ? D.layers : [{ path: D.run.layer, shape: [] }];
    for (const l of layers)
      ls.append(el("option", { value: l.path, text: l.path + (l.shape.length ? " (" + l.shape.slice(1).join("×") + ")" : "") }));
    ls.value = LIVE ? D.default_layer : D.run.layer;
    for (const s of [ts, ms, ls]) {
      s.disabled = !LIVE;
      s.onchange = () => updateCam(r);
    }
    if (!LIVE) {
      // Offline only the true and predicted class were computed.
      for (const o of ts.options) o.disabled = !(o.value === "pred" || o.value === "true");
      ts.disabled = x.correct;
      ts.onchange = () => updateCam(r);
    }
    updateCam(r);
    const dual = $("dual-view");
    dual.hidden = x.correct;
    $("finer-toggle").onchange = () => updateDual(r);
    if (!x.correct) updateDual(r);
  }

  // The dual view: the run's flags offline, the server's X-Camscope-Cam header when served (any
  // method and layer), so a blank map is named as such under its picture.
  let dualSeq = 0;
  async function updateDual(r) {
    const x = rowInfo(r);
    const m = $("method-select").value, l = $("layer-select").value;
    const seq = ++dualSeq;
    const parts = [["dual-true", camUrl(r, "true", m, l), x.label, "true class: " + name(x.label), 2],
                   ["dual-pred", camUrl(r, "pred", m, l), x.pred, "predicted class: " + name(x.pred), 1],
                   ["dual-diff", diffUrl(r, m, l), -1, "difference: predicted − true (red: predicted higher)", 3]];
    // Finer-CAM, "why the predicted class and not the true one" (main = pred, contrast = true, at
    // the chosen layer): live from the server, precomputed offline for the pair sheets' errors.
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
          const res = await fetch(url);
          if (!res.ok) throw new Error(res.statusText);
          const info = JSON.parse(res.headers.get("X-Camscope-Cam") || "{}");
          const blob = await res.blob();
          if (seq !== dualSeq) return;  // a newer update replaced this one
          setBlob(img, blob);
          blank = info.degenerate === true;
        } catch (e) {
          if (seq !== dualSeq) return;
          img.removeAttribute("src");
          cap.textContent = text + " (failed: " + e.message + ")";
          continue;
        }
      } else {
        img.src = url;
        blank = bit < 0 || (blankBits(r) & bit) !== 0;
      }
      if (blank) {
        cap.textContent = cls < 0 ? "no difference shown: a map has no positive evidence at " + l
                                  : text + " — " + noEvidence(cls, l);
        cap.classList.add("noev-cap");
      }
    }
  }

  async function updateCam(r) {
    const x = rowInfo(r);
    const target = $("target-select").value, method = $("method-select").value, layer = $("layer-select").value;
    const img = $("cam-img"), stats = $("cam-stats"), err = $("cam-error"), blankNote = $("cam-blank");
    const tcls = target === "pred" ? x.pred : target === "true" ? x.label : Number(target);
    const tname = name(tcls);
    $("cam-caption").textContent = method + " at " + layer + " for class '" + tname + "'";
    err.hidden = true;
    blankNote.hidden = true;
    const showBlank = () => { blankNote.textContent = noEvidence(tcls, layer); blankNote.hidden = false; };
    const url = camUrl(r, target, method, layer);
    if (!url) {
      img.removeAttribute("src");
      stats.textContent = "no precomputed CAM for this image in the offline copy";
      return;
    }
    if (!LIVE) {
      img.src = url;
      const blank = (blankBits(r) & (target === "true" ? 2 : 1)) !== 0;
      if (blank) showBlank();
      stats.textContent = "precomputed " + D.run.method + " map" +
                          (blank ? ": all zero after ReLU (hatched: nothing to show)" : "");
      img.dataset.fingerprint = url;
      return;
    }
    const seq = ++camSeq;
    img.dataset.loading = "1";
    stats.textContent = "computing…";
    try {
      const t0 = performance.now();
      const res = await fetch(url);
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
    if (!x.correct) updateDual(r);  // follows the method and layer (unchanged URLs do not reload)
  }

  // ------------------------------------------------------------------ navigation
  function go(hash) { location.hash = "#" + hash; }

  function route() {
    const h = location.hash.replace(/^#/, "") || "overview";
    const parts = h.split("/");
    let view = "overview";
    try {
      if (parts[0] === "class" && parts.length === 2 && +parts[1] >= 0 && +parts[1] < K) {
        showClass(+parts[1]);
        view = "class";
      } else if (parts[0] === "cell" && parts.length === 3 && +parts[1] >= 0 && +parts[1] < K && +parts[2] >= 0 && +parts[2] < K) {
        showCell(+parts[1], +parts[2]);
        view = "cell";
      } else if (parts[0] === "image" && parts.length === 2 && +parts[1] >= 0 && +parts[1] < D.run.n) {
        showImage(+parts[1]);
        view = "image";
      } else {
        showOverview();
      }
    } catch (e) {
      fatal(e);
      return;
    }
    for (const v of ["overview", "class", "cell", "image"]) $("view-" + v).hidden = v !== view;
    document.body.dataset.view = view;
    $("tooltip").hidden = true;
    window.scrollTo(0, 0);
  }

  function fatal(e) {
    $("loading").hidden = true;
    $("fatal").textContent = "camscope explorer: " + (e && e.message ? e.message : e);
    $("fatal").hidden = false;
  }

  function start(data, live) {
    D = data;
    LIVE = live;
    K = D.classes.length;
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
    const search = $("class-search");
    const find = (q) => {
      q = q.trim().toLowerCase();
      if (!q) return -1;
      let c = D.classes.findIndex((n) => n.toLowerCase() === q);
      if (c < 0) c = D.classes.findIndex((n) => n.toLowerCase().includes(q));
      return c;
    };
    search.addEventListener("change", () => { const c = find(search.value); if (c >= 0) go("class/" + c); });
    search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { const c = find(search.value); if (c >= 0) go("class/" + c); }
    });
    window.addEventListener("hashchange", route);
    route();
    document.body.dataset.ready = LIVE ? "live" : "offline";
  }

  if (window.CAMSCOPE_DATA) {
    start(window.CAMSCOPE_DATA, false);
  } else {
    fetch("api/explorer")
      .then((res) => { if (!res.ok) throw new Error("api/explorer answered " + res.status); return res.json(); })
      .then((data) => start(data, true))
      .catch(fatal);
  }
})();

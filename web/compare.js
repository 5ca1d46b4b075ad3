// camscope compare's explorer (<diff>/explorer/index.html, opened from disk): the images of two
// analyses of the same data, filtered by what B fixed / broke / both got wrong and by true class,
// each shown with model A's or model B's prediction and CAM overlay (the A/B toggle), and both side
// by side on click. data.js defines window.CAMSCOPE_COMPARE (written by `camscope compare`, schema in
// src/camscope/report/compare.hpp: compare_explorer_files). Text from the data is inserted as text,
// never as HTML. dom.js (web/explorer/, shared with the explorer) comes first.
"use strict";

(function () {
  const { $, el, clear } = window.camscope.dom;
  const pct = (v) => window.camscope.dom.pct(v, 2, " ");  // "12.34 %"
  const PAGE = 240;  // cards drawn at a time ("show more" adds as many)

  const D = window.CAMSCOPE_COMPARE;
  if (!D || !Array.isArray(D.rows) || !Array.isArray(D.classes)) {
    const f = $("fatal");
    f.hidden = false;
    f.textContent = "data.js is missing or not a camscope comparison (window.CAMSCOPE_COMPARE); run `camscope compare` again.";
    return;
  }
  const name = (c) => (c >= 0 && c < D.classes.length ? D.classes[c] : "class " + c);
  const STATUS_TEXT = { "fixed": "fixed", "broken": "broken", "both-wrong": "wrong in both", "both-right": "right in both" };
  // Images with pictures (the galleries' images) first, then the others, each by dataset index.
  const rows = D.rows.slice().sort((x, y) => (!!y.pictures - !!x.pictures) || (x.index - y.index));
  const state = { filter: "fixed", cls: "", model: "a", limit: PAGE };

  // ------------------------------------------------------------------ header
  for (const [key, label] of [["a", "A"], ["b", "B"]]) {
    const m = D[key] || {};
    const sha = typeof m.model_sha256 === "string" ? m.model_sha256.slice(0, 12) : "";
    $("runs").append(el("dt", { text: label }),
                     el("dd", { id: "run-" + key, text: `${m.model} (SHA-256 ${sha}…), ${m.method} at ${m.layer}; ` +
                                                        `top-1 ${pct(m.accuracy)}; store ${m.store}` }));
  }
  if (D.dataset) $("runs").append(el("dt", { text: "data" }), el("dd", { text: `${D.dataset.images} images of ${D.dataset.path}` }));
  const P = D.paired || {};
  $("counts").textContent = `${P.fixed} fixed, ${P.broken} broken, ${P.both_wrong} wrong in both, ` +
                            `${P.both_right} right in both, of ${D.rows.length} images`;
  D.classes.forEach((c, i) => $("class-filter").append(el("option", { value: String(i), text: c })));

  // ------------------------------------------------------------------ the list
  function matches(r) {
    if (state.filter !== "all" && r.status !== state.filter) return false;
    return state.cls === "" || r.label === +state.cls;
  }

  function predLine(r, key) {
    const p = key === "a" ? r.pred_a : r.pred_b, conf = key === "a" ? r.conf_a : r.conf_b;
    return el("div", { class: "pred " + (p === r.label ? "right" : "wrong"),
                       text: `${key.toUpperCase()}: ${name(p)} (${conf.toFixed(2)})` });
  }

  function picture(r, which, alt) {
    const src = r.pictures && r.pictures[which];
    if (!src) return el("div", { class: "noimg", text: "no picture" });
    return el("img", { src, alt, class: which === "image" ? "image" : "overlay" });
  }

  function card(r) {
    const key = state.model;
    return el("div", { class: "card", tabindex: "0", role: "button", dataset: { index: String(r.index), status: r.status },
                       onclick: () => detail(r), onkeydown: (e) => { if (e.key === "Enter") detail(r); } },
              picture(r, key, `model ${key.toUpperCase()}'s CAM of its prediction for image ${r.index}`),
              el("div", { class: "idx", text: `#${r.index} ${name(r.label)}` }),
              predLine(r, key),
              el("div", { class: "status " + r.status, text: STATUS_TEXT[r.status] || r.status }));
  }

  function render() {
    const hit = rows.filter(matches);
    const grid = clear($("grid"));
    hit.slice(0, state.limit).forEach((r) => grid.append(card(r)));
    const what = $("filter").selectedOptions[0].textContent + (state.cls === "" ? "" : ", true class " + name(+state.cls));
    $("shown").textContent = (hit.length > state.limit ? `showing ${state.limit} of ` : "") +
                             `${hit.length} images: ${what}; model ${state.model.toUpperCase()}'s prediction and CAM`;
    $("more").hidden = hit.length <= state.limit;
  }

  function detail(r) {
    $("detail-title").textContent = `#${r.index}, true class ${name(r.label)}: ${STATUS_TEXT[r.status] || r.status}`;
    const body = clear($("detail-body"));
    body.append(el("figure", { class: "side-image" }, picture(r, "image", `image ${r.index}`),
                   el("figcaption", { text: "image" })));
    for (const key of ["a", "b"]) {
      body.append(el("figure", { class: "side-" + key },
                     picture(r, key, `model ${key.toUpperCase()}'s CAM of its prediction`),
                     el("figcaption", {}, predLine(r, key))));
    }
    const dlg = $("detail");
    if (typeof dlg.showModal === "function") { if (!dlg.open) dlg.showModal(); } else dlg.setAttribute("open", "");
  }

  function setModel(key) {
    state.model = key;
    $("show-a").setAttribute("aria-pressed", String(key === "a"));
    $("show-b").setAttribute("aria-pressed", String(key === "b"));
    render();
  }

  $("filter").addEventListener("change", () => { state.filter = $("filter").value; state.limit = PAGE; render(); });
  $("class-filter").addEventListener("change", () => { state.cls = $("class-filter").value; state.limit = PAGE; render(); });
  $("show-a").addEventListener("click", () => setModel("a"));
  $("show-b").addEventListener("click", () => setModel("b"));
  $("more").addEventListener("click", () => { state.limit += PAGE; render(); });
  render();
})();

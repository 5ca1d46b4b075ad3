// camscope's web pages share one namespace, window.camscope, filled by classic scripts (the
// offline copies open from file://, where ES modules do not load): each file adds one part
// (dom, url, filters, source, tags, export, widgets, the views, app) and index.html loads them in
// that order. This file: the DOM helpers the explorer and compare's page share.
"use strict";

(function (cs) {
  const $ = (id) => document.getElementById(id);

  // el("div", {class, text, dataset, onclick, other attributes}, ...children). An attribute whose
  // value is undefined, null or false is left out; true sets it empty. Text goes in as text, never
  // as HTML.
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
  const clear = (node) => { while (node.firstChild) node.removeChild(node.firstChild); return node; };
  // A share as a percentage: pct(0.1234) "12.3%", pct(0.1234, 2, " ") "12.34 %"; "–" for a value
  // that is not a finite number.
  const pct = (v, digits = 1, sep = "") =>
    (typeof v === "number" && isFinite(v) ? (100 * v).toFixed(digits) + sep + "%" : "–");
  // A share with its 95 % interval ([lo, hi] from the report; absent in older data): "72.0% (65.1–78.2%)".
  const pctCi = (v, ci) =>
    pct(v) + (Array.isArray(ci) && ci.length === 2 && typeof ci[0] === "number" && typeof ci[1] === "number" &&
              typeof v === "number" && isFinite(v)
      ? " (" + (100 * ci[0]).toFixed(1) + "\u2013" + (100 * ci[1]).toFixed(1) + "%)" : "");
  // A table cell of such a share: the interval in a muted span that does not break inside.
  const pctCiCell = (v, ci) => {
    const td = el("td", { class: "num", text: pct(v) }), full = pctCi(v, ci);
    if (full.length > pct(v).length) td.append(" ", el("span", { class: "ci", text: full.slice(pct(v).length + 1) }));
    return td;
  };
  const editing = (t) => t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");

  cs.dom = { $, el, clear, pct, pctCi, pctCiCell, editing };
})(window.camscope = window.camscope || {});

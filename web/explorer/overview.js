// camscope explorer: the overview (KPIs, most confused pairs, weakest classes, the reliability
// diagram, links to the report's lists); the confusion matrix is matrix.js.
"use strict";

(function (cs) {
  const { $, el } = cs.dom, { hashOf, go } = cs.url;

  cs.views = cs.views || {};
  cs.views.overview = function (ctx) {
    const { D, C, ui } = ctx, pct = cs.dom.pct, F = cs.filters;
    const { kpi, pairRow, gridLink } = ui;
    const matrix = cs.views.matrix(ctx);
    // The fitted temperature; where the fit stopped at a bound of its range (its NLL optimum lies
    // beyond), it says so rather than pass the bound off as the optimum.
    const tLabel = (c) => c.temperature.toFixed(2) +
      (c.temperature_at_bound > 0 ? " (the largest searched)" : c.temperature_at_bound < 0 ? " (the smallest searched)" : "");

    let overviewBuilt = false;
    function showOverview() {
      if (overviewBuilt) return;
      overviewBuilt = true;
      const o = D.overall, c = D.calibration;
      $("kpis").append(kpi("top-1 accuracy", cs.dom.pctCi(o.top1, o.top1_ci)),
                       kpi("top-" + o.top5_k + " accuracy", cs.dom.pctCi(o.top5, o.top5_ci)),
                       kpi("images", String(D.run.n)), kpi("errors", String(o.errors)),
                       kpi("mean confidence", pct(o.mean_confidence)), kpi("ECE", cs.dom.pctCi(c.ece, c.ece_ci)), kpi("MCE", pct(c.mce)),
                       kpi("temperature", tLabel(c)), kpi("ECE at T", pct(c.ece_after)));
      matrix.build();
      const pairs = $("pairs");
      pairs.append(el("tr", {}, el("th", { text: "true" }), el("th", { text: "predicted" }), el("th", { text: "count" }),
                      el("th", { text: "rate" })));
      for (const p of D.pairs.slice(0, 12)) pairs.append(pairRow(p.true, p.pred, p.count, p.rate, p.rate_ci));
      if (!D.pairs.length) pairs.append(el("tr", {}, el("td", { colspan: "4", text: "no errors" })));
      buildCalibration();
      const weak = $("weakest");
      weak.append(el("tr", {}, el("th", { text: "class" }), el("th", { text: "accuracy" }), el("th", { text: "F1" }),
                     el("th", { text: "support" })));
      // Weakest first by the upper bound of the accuracy's 95 % interval (as the report's
      // worst_classes: a class of 5 images cannot top the list), then accuracy, then support (desc);
      // data without intervals: by accuracy.
      const hi = (x) => (Array.isArray(x.accuracy_ci) ? x.accuracy_ci[1] : x.accuracy);
      const order = D.per_class.filter((x) => x.support > 0)
        .sort((a, b) => hi(a) - hi(b) || a.accuracy - b.accuracy || b.support - a.support || a.index - b.index);
      for (const x of order.slice(0, 10))
        weak.append(el("tr", { class: "link", tabindex: "0", role: "link", onclick: () => go("class/" + x.index),
                               onkeydown: (e) => { if (e.key === "Enter") go("class/" + x.index); } },
                       el("td", { text: x.name }), cs.dom.pctCiCell(x.accuracy, x.accuracy_ci),
                       el("td", { class: "num", text: pct(x.f1) }), el("td", { class: "num", text: String(x.support) })));
      const ol = $("ov-lists");
      for (const k of ["label", "hce", "lcc"]) {
        if (!C.flagAvailable(k)) continue;
        const n = D.lists && D.lists[F.listOf[k]] ? D.lists[F.listOf[k]].length : null;
        ol.append(el("li", {}, gridLink(F.flagNames[k] + (n !== null ? " (" + n + ")" : ""), F.listParams(C, k))));
      }
      const dg = C.degenerateCounts();
      if (dg) ol.append(el("li", {}, gridLink("degenerate CAMs (" + dg.degenerate + " of " + dg.maps + ")", { deg: 1 })));
      ol.append(el("li", {}, el("a", { href: "#lists", text: "all lists, faithfulness ranking…" })));
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

    return { show: showOverview };
  };
})(window.camscope = window.camscope || {});

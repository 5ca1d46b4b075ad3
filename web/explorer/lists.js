// camscope explorer: a class's page (#class/3) and the report's lists (#lists: likely label
// errors, high-confidence errors, low-confidence correct, the faithfulness ranking, degenerate CAMs).
"use strict";

(function (cs) {
  const { $, el, clear } = cs.dom, { hashOf, go } = cs.url;

  cs.views = cs.views || {};
  cs.views.lists = function (ctx) {
    const { D, C, list, name, ui } = ctx, pct = cs.dom.pct, F = cs.filters;
    const { kpi, gridLink, pairRow } = ui;

    function showClass(c) {
      const x = D.per_class[c];
      $("class-select").value = String(c);
      $("class-title").textContent = "Class " + c + ": " + x.name;
      clear($("class-kpis")).append(kpi("accuracy (recall)", cs.dom.pctCi(x.accuracy, x.accuracy_ci)),
                                    kpi("precision", cs.dom.pctCi(x.precision, x.precision_ci)),
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
      ui.gallery($("gallery-worst"), list(wrongQ).slice(0, Math.max(12, g.worst.length)), wrongQ, "no errors on this class");
      ui.gallery($("gallery-best"), list(rightQ).slice(0, Math.max(6, g.best.length)), rightQ, "no correct predictions of this class");
      const as = clear($("confused-as")), from = clear($("confused-from"));
      const header = () => el("tr", {}, el("th", { text: "true" }), el("th", { text: "predicted" }), el("th", { text: "count" }),
                              el("th", { text: "rate" }));
      as.append(header());
      from.append(header());
      for (const p of D.pairs) {
        if (p.true === c) as.append(pairRow(p.true, p.pred, p.count, p.rate, p.rate_ci));
        if (p.pred === c) from.append(pairRow(p.true, p.pred, p.count, p.rate, p.rate_ci));
      }
    }

    let listsBuilt = false;
    function showLists() {
      if (listsBuilt) { refreshListTiles(); return; }
      listsBuilt = true;
      const box = $("lists");
      for (const k of ["label", "hce", "lcc"]) {
        const sec = el("section", { class: "list", id: "list-" + k });
        const q = new URLSearchParams(F.listParams(C, k));
        if (!C.flagAvailable(k)) {
          sec.append(el("h3", { text: F.flagNames[k] }), el("p", { class: "hint", text: "not in this data (written by an older camscope)" }));
          box.append(sec);
          continue;
        }
        const rows = list(q);
        sec.append(el("h3", {}, el("span", { text: { label: "Likely label errors", hce: "High-confidence errors", lcc: "Low-confidence correct predictions" }[k] + ": " + rows.length + " " }), gridLink("open all in the grid", q)));
        if (k === "label") sec.append(el("p", { class: "hint", text: "misclassified images whose given label the model finds least plausible" +
                                                                     (C.has("lscore") ? " (highest label-error score first)" : "") }));
        if (k === "hce" && D.thresholds) sec.append(el("p", { class: "hint", text: "wrong with confidence ≥ " + pct(D.thresholds.high_conf) }));
        if (k === "lcc" && D.thresholds) sec.append(el("p", { class: "hint", text: "correct with confidence < " + pct(D.thresholds.low_conf) }));
        const tiles = el("div", { class: "tiles", dataset: { list: k } });
        sec.append(tiles);
        box.append(sec);
      }
      // Faithfulness ranking
      const fsec = el("section", { class: "list" }, el("h3", { text: "Faithfulness ranking of CAM methods" }));
      const ranking = D.lists && D.lists.faithfulness;
      if (ranking && ranking.length) {
        const t = el("table", { class: "table", id: "faithfulness" },
                     el("tr", {}, el("th", { text: "rank" }), el("th", { text: "method" }), el("th", { text: "layer" }),
                        el("th", { text: "mean rank" }), el("th", { text: "maps" }), el("th", { text: "degenerate" })));
        ranking.forEach((x, i) => t.append(el("tr", {}, el("td", { class: "num", text: String(i + 1) }), el("td", { text: x.method }),
                                        el("td", { text: x.layer }), el("td", { class: "num", text: x.mean_rank === null || x.mean_rank === undefined ? "not ranked" : Number(x.mean_rank).toFixed(2) }),
                                        el("td", { class: "num", text: String(x.maps) }), el("td", { class: "num", text: String(x.degenerate) }))));
        fsec.append(t);
      } else fsec.append(el("p", { class: "hint", text: "the faithfulness check was not run (or the data predates it)" }));
      box.append(fsec);
      // Degenerate maps
      const dsec = el("section", { class: "list" }, el("h3", { text: "Degenerate CAMs (no positive evidence)" }));
      const dg = C.degenerateCounts();
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
        const q = new URLSearchParams(F.listParams(C, node.dataset.list));
        ui.gallery(node, list(q).slice(0, 16), q);
      }
    }

    return { showClass, showLists };
  };
})(window.camscope = window.camscope || {});

// camscope explorer: the confusion matrix of the overview: a table up to 120 classes, a canvas
// above.
"use strict";

(function (cs) {
  const { $, el } = cs.dom, { hashOf, go } = cs.url;

  cs.views = cs.views || {};
  cs.views.matrix = function (ctx) {
    const { D, K, name } = ctx, pct = cs.dom.pct;
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

    return { build: buildConfusion };
  };
})(window.camscope = window.camscope || {});

// camscope explorer: the pieces several views draw: KPIs, thumbnails, tiles (a grid's image),
// their keyboard handling, rows of confused pairs and links to a filtered grid.
"use strict";

(function (cs) {
  const { el } = cs.dom, { hashOf, go } = cs.url;

  // ctx: {S (source), D, C (columns), tags, name(c), rowInfo(r), list(q)} (app.js).
  cs.widgets = function (ctx) {
    const { S, D, tags } = ctx, name = ctx.name, pct = cs.dom.pct;

    function kpi(label, value) { return el("div", { class: "kpi" }, el("b", { text: value }), el("span", { text: label })); }

    function tagChips(r) {
      const t = tags.get(r);
      return t.length ? el("div", { class: "chips" }, ...t.map((x) => el("span", { class: "chip", text: cs.tags.text(x, name) }))) : null;
    }

    // A thumbnail of row r, `size` px on the long side: the sprite sheet tile when `sprite`, else
    // the source's input image (when it has one).
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
      const u = S.inputUrl(r);
      if (u) return el("img", { class: "input", src: u, alt: "image " + D.rows.index[r], loading: "lazy", width: size, height: size });
      return el("div", { class: "nothumb", style: "width:" + size + "px;height:" + size + "px", text: "no image offline" });
    }

    // One tile of a grid: the thumbnail, its caption, its tags; `listQuery` is carried into the
    // image link so prev/next walk the same list. `checked` (a Set of rows, or null: no checkbox)
    // and `onCheck()` when the box changes; `sprite(r)`: whether to draw from the sprite sheet.
    function tile(r, listQuery, checked, sprite, onCheck) {
      const x = ctx.rowInfo(r);
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
                   ctx.C.blankBits(r) & 1 ? el("div", { class: "noev", text: "degenerate CAM" }) : null,
                   tagChips(r), cb);
      if (cb) cb.addEventListener("change", () => { if (cb.checked) checked.add(r); else checked.delete(r); onCheck(); });
      t.addEventListener("click", (e) => {
        if (e.target === cb) return;
        if (e.target.closest("a")) return;  // the link navigates
        go(hashOf("image/" + r, listQuery));
      });
      return t;
    }

    function focusTile(tiles, j) {
      for (const t of tiles) t.tabIndex = -1;
      tiles[j].tabIndex = 0;
      tiles[j].focus();
    }
    // Arrow keys / j,k move the focus among a container's tiles, Enter opens, Space checks.
    // opts (the grid's): tag(row, tag) for r / a / o (relabel / ambiguous / ok on the focused
    // image); edge(step, focus) when the focus would leave the page (step ±1, focus "first" | "last").
    function tileKeys(box, opts) {
      opts = opts || {};
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
        else if (opts.tag && { r: 1, a: 1, o: 1 }[e.key] && !e.ctrlKey && !e.metaKey && !e.altKey) {
          e.preventDefault();
          opts.tag(+tiles[i].dataset.row, { r: "relabel", a: "ambiguous", o: "ok" }[e.key]);
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
        if (j >= tiles.length && opts.edge) { opts.edge(1, "first"); return; }
        if (j < 0 && opts.edge) { opts.edge(-1, "last"); return; }
        j = Math.max(0, Math.min(tiles.length - 1, j));
        focusTile(tiles, j);
      });
    }

    // A row of a confused-pairs table: opens the grid of those images, most confident first.
    function pairRow(t, p, count, rate, rateCi) {
      const q = new URLSearchParams({ t, p, sort: "conf", dir: "desc" });
      return el("tr", { class: "link", tabindex: "0", role: "link", "aria-label": name(t) + " predicted as " + name(p) + ": " + count,
                        onclick: () => go(hashOf("grid", q)), onkeydown: (e) => { if (e.key === "Enter") go(hashOf("grid", q)); } },
                el("td", { text: name(t) }), el("td", { text: name(p) }),
                el("td", { class: "num", text: String(count) }), cs.dom.pctCiCell(rate, rateCi));
    }
    function gridLink(text, params) { return el("a", { href: "#" + hashOf("grid", new URLSearchParams(params)), text }); }

    // Tiles of `rows` into `node` (cleared), the first in the tab order; `empty`: the text when none.
    function gallery(node, rows, q, empty) {
      cs.dom.clear(node);
      if (!rows.length && empty) node.append(el("p", { class: "hint", text: empty }));
      const sp = S.sprites(rows);
      for (const r of rows) node.append(tile(r, q, null, sp));
      const first = node.querySelector(".tile");
      if (first) first.tabIndex = 0;
    }

    return { kpi, tagChips, thumbPic, tile, focusTile, tileKeys, pairRow, gridLink, gallery };
  };
})(window.camscope = window.camscope || {});

// camscope explorer: the grid of every image a filter selects (#grid?<filters>): its filter
// form, pages, checked images, tagging and export.
"use strict";

(function (cs) {
  const { $, el, clear } = cs.dom, { hashOf, go } = cs.url;

  cs.views = cs.views || {};
  cs.views.grid = function (ctx) {
    const { S, D, K, C, tags, list, ui } = ctx, F = cs.filters, { intParam, filterParams, pageSize } = F;
    const exportRows = (rows, what, fmt) => cs.exporter.save(D, rows, (r) => tags.get(r), what, fmt);
    const checked = new Set();
    let lastTile = null;
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
      for (const k of ["label", "hce", "lcc"]) if (C.flagAvailable(k)) $("f-flag").append(el("option", { value: k, text: F.flagNames[k] }));
      if (!D.rows.blank) $("f-deg-label").hidden = true;
      C.modes.forEach((m, i) => $("f-fm").append(el("option", { value: String(i), text: F.modeName(C, i), title: m.description })));
      if (!C.modes.length) $("f-fm-label").hidden = true;
      if (C.flips) {
        $("f-flip").append(el("option", { value: "tested", text: "tested (" + C.flips.tested + ")" }));
        for (const [k, n] of Object.entries(F.flipNames))
          $("f-flip").append(el("option", { value: k, text: n + " (" + C.flips[k] + ")" }));
      } else $("f-flip-label").hidden = true;
      for (const [k, s] of Object.entries(C.sorts)) if (s.ok()) $("f-sort").append(el("option", { value: k, text: s.label }));
      const change = () => {
        const q = new URLSearchParams();
        const set = (k, v) => { if (v !== "" && v !== null && v !== undefined) q.set(k, v); };
        set("ok", $("f-ok").value); set("t", $("f-t").value); set("p", $("f-p").value); set("sc", $("f-sc").value);
        set("cmin", $("f-cmin").value); set("cmax", $("f-cmax").value); set("flag", $("f-flag").value);
        if ($("f-deg").checked) q.set("deg", "1");
        set("fm", $("f-fm").value);
        set("flip", $("f-flip").value);
        if ($("f-tagged").checked) q.set("tagged", "1");
        set("sort", $("f-sort").value); set("dir", $("f-dir").value);
        if ($("f-ps").value !== "60") q.set("ps", $("f-ps").value);
        go(hashOf("grid", q));
      };
      for (const id of ["f-ok", "f-t", "f-p", "f-sc", "f-cmin", "f-cmax", "f-flag", "f-deg", "f-fm", "f-flip", "f-tagged", "f-dir", "f-ps"])
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
        if (t) ui.focusTile([...document.querySelectorAll("#grid .tile")], [...document.querySelectorAll("#grid .tile")].indexOf(t));
      };
      $("grid").addEventListener("focusin", (e) => { const t = e.target.closest && e.target.closest(".tile"); if (t) lastTile = +t.dataset.row; });
      for (const b of document.querySelectorAll("#view-grid .tagbar button[data-tag]"))
        b.addEventListener("click", () => tagAction((rows) => tags.toggle(rows, b.dataset.tag, true)));
      $("grid-tag-add").addEventListener("click", () => {
        const t = $("grid-tag-text").value.trim();
        if (!cs.tags.valid(t)) { $("grid-note").textContent = cs.tags.invalidText; return; }
        tagAction((rows) => tags.toggle(rows, t, true));
      });
      $("grid-tag-clear").addEventListener("click", () => tagAction(async (rows) => { for (const r of rows) await tags.set(r, []); }));
      $("grid-check-page").addEventListener("click", () => {
        for (const t of document.querySelectorAll("#grid .tile")) checked.add(+t.dataset.row);
        renderGrid();
      });
      $("grid-uncheck").addEventListener("click", () => { checked.clear(); renderGrid(); });
      $("exp-sel-csv").addEventListener("click", () => exportRows(list(gridQuery), "selection", "csv"));
      $("exp-sel-json").addEventListener("click", () => exportRows(list(gridQuery), "selection", "json"));
      $("exp-tag-csv").addEventListener("click", () => exportRows(tags.rows(), "tagged", "csv"));
      $("exp-tag-json").addEventListener("click", () => exportRows(tags.rows(), "tagged", "json"));
      ui.tileKeys($("grid"), { tag: (row, tag) => { lastTile = row; tagAction(() => tags.toggle([row], tag)); }, edge: pageStep });
    }
    let curPage = 0, pageCount = 1, focusAfter = null;
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
      $("f-fm").value = intParam(f, "fm", 0, C.modes.length) !== null ? f.get("fm") : "";
      $("f-flip").value = F.flipParam(C, f) || "";
      $("f-tagged").checked = f.get("tagged") === "1";
      $("f-sort").value = F.sortOf(C, f).key;
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
      const rows = list(q), ps = pageSize(q);
      pageCount = Math.max(1, Math.ceil(rows.length / ps));
      curPage = Math.max(0, Math.min(pageCount - 1, (intParam(q, "page", 1, 1e9) || 1) - 1));
      const from = curPage * ps, shown = rows.slice(from, from + ps);
      $("grid-title").textContent = F.describe(C, q) + ": " + rows.length + " image" + (rows.length === 1 ? "" : "s");
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
      const sp = S.sprites(shown);
      for (const r of shown) box.append(ui.tile(r, lq, checked, sp, updateChecked));
      const tiles = [...box.querySelectorAll(".tile")];
      if (tiles.length) {
        const j = focusAfter === "last" ? tiles.length - 1 : 0;
        tiles[j].tabIndex = 0;
        if (focusAfter) tiles[j].focus();
      }
      focusAfter = null;
      const notes = [];
      if (S.thumbsNote()) notes.push(S.thumbsNote());
      notes.push(tags.describe());
      $("grid-note").textContent = notes.join(" ");
      updateChecked();
    }

    return { show: showGrid };
  };
})(window.camscope = window.camscope || {});

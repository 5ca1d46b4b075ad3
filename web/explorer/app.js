// camscope explorer: the entry point. One page for both modes (source.js says which and where
// everything comes from): it opens the source, builds the views over its data and routes the URL
// fragment (url.js) to them. The data's schema: src/camscope/report/explorer.hpp. Text from the data
// is inserted as text, never as HTML.
"use strict";

(function (cs) {
  const { $, el } = cs.dom, { parseHash, hashOf, go } = cs.url, F = cs.filters;

  function fatal(e) {
    $("loading").hidden = true;
    $("fatal").textContent = "camscope explorer: " + (e && e.message ? e.message : e);
    $("fatal").hidden = false;
  }

  // The context every view is built with: the source, its data and the lists of the current tags.
  function context(S) {
    const D = S.data, C = F.columns(D);
    const tags = cs.tags.store(S);
    const ctx = {
      S, D, C, tags, K: C.K, N: C.N,
      name: (c) => D.classes[c],
      rowInfo(r) {
        const X = D.rows;
        return { row: r, index: X.index[r], label: X.label[r], pred: X.pred[r], conf: X.conf[r], correct: X.label[r] === X.pred[r] };
      },
      list: F.lister(C, (r) => tags.get(r).length > 0, () => tags.version),
    };
    ctx.ui = cs.widgets(ctx);
    return ctx;
  }

  function start(S) {
    const ctx = context(S), D = ctx.D, K = ctx.K, N = ctx.N;
    const V = cs.views;
    const overview = V.overview(ctx), grid = V.grid(ctx), lists = V.lists(ctx), image = V.image(ctx);

    function route() {
      const { view: v, args, q } = parseHash();
      let view = "overview";
      const idx = (s, n) => (s !== undefined && /^\d+$/.test(s) && +s < n ? +s : -1);
      try {
        if (v === "class" && args.length === 1 && idx(args[0], K) >= 0) {
          lists.showClass(+args[0]);
          view = "class";
        } else if (v === "cell" && args.length === 2 && idx(args[0], K) >= 0 && idx(args[1], K) >= 0) {
          // old links: a confusion cell is the grid filtered to it
          location.replace("#" + hashOf("grid", new URLSearchParams({ t: args[0], p: args[1], sort: "conf", dir: "desc" })));
          return;
        } else if (v === "grid") {
          grid.show(q);
          view = "grid";
        } else if (v === "lists") {
          lists.showLists();
          view = "lists";
        } else if (v === "image" && args.length === 1 && idx(args[0], N) >= 0) {
          image.show(+args[0], q);
          view = "image";
        } else {
          overview.show();
        }
      } catch (e) {
        fatal(e);
        return;
      }
      if (view !== "class" && !(view === "grid" && F.intParam(q, "t", 0, K) !== null)) $("class-select").value = "";
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

    $("loading").hidden = true;
    const r = D.run;
    $("run-info").textContent = r.model_path + " on " + r.dataset_name + " (" + r.split + "): " + r.n + " images, " +
                                K + " classes; CAM " + r.method + " at " + r.layer;
    const warn = $("cam-warning");
    if (D.cam_health && D.cam_health.warning && D.cam_health.warning.length) {
      for (const line of D.cam_health.warning) warn.append(el("p", { text: line }));
      warn.hidden = false;
    }
    // The sanity gate failed: its warning (the image view notes it on the maps it tested).
    const sanityWarning = D.sanity && D.sanity.passed === false && Array.isArray(D.sanity.warning) ? D.sanity.warning : [];
    for (const line of sanityWarning) $("sanity-warning").append(el("p", { text: line }));
    $("sanity-warning").hidden = !sanityWarning.length;
    if (S.notice) {
      for (const id of ["mode-notice", "live-notice"]) {
        $(id).textContent = S.notice;
        $(id).hidden = false;
      }
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
    image.setup();
    ctx.ui.tileKeys($("gallery-worst"));
    ctx.ui.tileKeys($("gallery-best"));
    window.addEventListener("hashchange", route);
    ctx.tags.load().catch(() => {}).then(() => {
      route();
      document.body.dataset.ready = S.mode;
      window.CAMSCOPE_FIRST_RENDER_MS = performance.now();
    });
  }

  cs.source.open().then(start).catch(fatal);
})(window.camscope = window.camscope || {});

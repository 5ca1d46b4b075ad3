// camscope explorer: where the data, the images, the CAMs and the tags come from. The one place
// that knows the page's two modes; every view asks the source it is given:
//  - served (`camscope serve`): the data from api/explorer, images and CAMs from the API (any
//    target class, method and layer, computed live), tags from api/tags;
//  - offline (<report>/explorer/index.html opened from disk): data.js defines
//    window.CAMSCOPE_DATA (fetch() is blocked on file://), the precomputed overlays are in img/,
//    tags live in localStorage.
// A source: {mode: "live" | "offline", data, notice (text or null), anyCam (any target, method and
// layer on request), missingCam (what to say when cam() has no map), methods, layers, defaultMethod, defaultLayer, mayBlend, blends(),
// inputUrl(row), sprites(rows), thumbsNote(), cam(row, target, method, layer, mc, heatmap),
// diff(row, method, layer, mc), finer(row, layer), loadTags(), saveTags(row, tags), localTagsNote}.
// cam/diff/finer answer null (no such map) or a map whose load(signal) resolves to {url | blob,
// degenerate, info (the server's X-Camscope-Cam, or null), fingerprint, settle() (true when this
// answer, once used, told whether the server draws heatmaps: blends() may have changed)}.
"use strict";

(function (cs) {
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

  // Thumbnails come from the sprite sheets when the data has them. Served, a sheet (up to 1,024
  // tiles, megabytes for noisy images) is worth loading only when the page shows many of its tiles
  // or the browser has it already; otherwise the image's own PNG. Offline, always the sheet.
  function sheetsOf(D) {
    const T = D.thumbs;
    return T && T.sheets && T.sheets.length && T.per_sheet > 0 ? T : null;
  }

  function served(D, tagsPending) {
    let heatview = null;  // null: not yet known; true: the server draws heatmaps (api/cam?view=heatmap)
    const sheetsUsed = new Set();
    const camUrl = (row, target, method, layer, mc) => {
      let u = "api/cam?image=" + row + "&target=" + encodeURIComponent(target);
      if (method) u += "&method=" + encodeURIComponent(method);
      if (layer) u += "&layer=" + encodeURIComponent(layer);
      if (mc) u += "&max_channels=" + mc;
      return u;
    };
    // The server's answer: the PNG and its X-Camscope-Cam header; an error says the server's reason
    // (error.message) and the HTTP status text (error.statusText).
    const map = (url, learns) => ({
      url,
      async load(signal) {
        const res = await fetchCam(url, signal);
        if (!res.ok) {
          const body = await res.json().catch(() => ({ error: res.statusText }));
          const e = new Error(body.error || res.statusText);
          e.statusText = res.statusText;
          throw e;
        }
        const info = JSON.parse(res.headers.get("X-Camscope-Cam") || "{}");
        const blob = await res.blob();
        // settle(): called once the answer is used; true when it told whether the server draws heatmaps.
        const settle = () => {
          if (!learns || heatview !== null) return false;
          heatview = info.view === "heatmap";
          return true;
        };
        return { blob, degenerate: info.degenerate === true, info, fingerprint: info.fingerprint || "", settle };
      },
    });
    return {
      mode: "live", data: D, notice: null, anyCam: true, missingCam: "",
      methods: D.methods, layers: D.layers, defaultMethod: D.default_method, defaultLayer: D.default_layer,
      // The server's JET heatmap, blended over the image by the page; a server without the heatmap
      // view (its answer lacks "view": "heatmap") sends the blended overlay PNG.
      mayBlend: true,
      blends: () => heatview !== false,
      inputUrl: (row) => "api/image/" + row + "/input.png",
      sprites(rows) {
        const T = sheetsOf(D);
        if (!T) return () => false;
        const n = new Map();
        for (const r of rows) { const k = Math.floor(r / T.per_sheet); n.set(k, (n.get(k) || 0) + 1); }
        return (r) => {
          const k = Math.floor(r / T.per_sheet);
          if (sheetsUsed.has(k) || n.get(k) >= Math.min(16, T.per_sheet)) { sheetsUsed.add(k); return true; }
          return false;
        };
      },
      thumbsNote: () => null,
      cam(row, target, method, layer, mc, heatmap) {
        const u = camUrl(row, target, method, layer, mc);
        return heatmap && heatview !== false ? map(u + "&view=heatmap", true) : map(u, false);
      },
      diff: (row, method, layer, mc) =>
        map("api/diff?image=" + row + "&method=" + encodeURIComponent(method) + "&layer=" + encodeURIComponent(layer) +
            (mc ? "&max_channels=" + mc : ""), false),
      finer: (row, layer) =>
        map("api/cam?image=" + row + "&target=pred&method=finercam&contrast=true" + (layer ? "&layer=" + encodeURIComponent(layer) : ""), false),
      // The server's tags ({tags, persisted}), or null when it has no tags API (then the browser keeps them).
      async loadTags() {
        try {
          const res = await (tagsPending || fetch("api/tags"));
          tagsPending = null;
          if (res && res.ok) return await res.json();
        } catch (e) { /* no tags API */ }
        return null;
      },
      async saveTags(row, tags) {
        const res = await fetch("api/tags", { method: "POST", headers: { "Content-Type": "application/json" },
                                              body: JSON.stringify({ row, tags }) });
        const j = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error(j.error || res.statusText);
        return j;
      },
      localTagsNote: "; this server has no tags API",
    };
  }

  function offline(D) {
    const r = D.run;
    const entry = (row) => D.images && D.images[row];
    const blankBits = (row) => (D.rows.blank ? D.rows.blank[row] || 0 : 0);
    // A precomputed map: its file under img/ and whether the run found it blank.
    const map = (url, degenerate) => (url ? {
      url,
      load: async () => ({ url, degenerate, info: null, fingerprint: url, settle: () => false }),
    } : null);
    return {
      mode: "offline", data: D, anyCam: false, missingCam: "no precomputed CAM for this image in the offline copy",
      notice: "Offline copy: the CAMs of the predicted and true class (" + r.method + " at " + r.layer +
              ") were precomputed. Live CAMs for any class, method and layer need the server: " +
              "camscope serve --model MODEL --data DATA --results <this report folder>",
      methods: [r.method], layers: [{ path: r.layer, shape: [] }], defaultMethod: r.method, defaultLayer: r.layer,
      mayBlend: false,
      blends: () => false,
      inputUrl(row) {
        const e = entry(row);
        return e && e.input ? e.input : null;
      },
      sprites: (rows) => (sheetsOf(D) ? () => true : () => false),
      thumbsNote: () => (D.thumbs ? null : "This offline copy has no thumbnails of every image (written before sprite sheets): only images with precomputed CAMs show a picture."),
      // The predicted class's map, or the true class's (the predicted one when they agree).
      cam(row, target) {
        const e = entry(row);
        if (!e) return null;
        const which = target === "true" ? "true" : "pred";
        const correct = D.rows.label[row] === D.rows.pred[row];
        return map(e[which] || (which === "true" && correct ? e.pred : null), (blankBits(row) & (which === "true" ? 2 : 1)) !== 0);
      },
      diff(row) {
        const e = entry(row);
        return map(e ? e.diff || null : null, (blankBits(row) & 3) !== 0);
      },
      // Finer-CAM offline: the confused-pair sheets' errors only.
      finer(row) {
        const e = entry(row);
        return map((e && e.finer) || null, (D.finer_blank || []).includes(row));
      },
      loadTags: async () => null,
      saveTags: async () => { throw new Error("the offline copy keeps tags in the browser"); },
      localTagsNote: "",
    };
  }

  // The page's source: offline when data.js defined the data, else the server's api/explorer.
  function open() {
    if (window.CAMSCOPE_DATA) return Promise.resolve(offline(window.CAMSCOPE_DATA));
    const tags = fetch("api/tags").catch(() => null);  // in parallel with the data
    return fetch("api/explorer")
      .then((res) => { if (!res.ok) throw new Error("api/explorer answered " + res.status); return res.json(); })
      .then((data) => served(data, tags));
  }

  cs.source = { open, served, offline, fetchCam };
})(window.camscope = window.camscope || {});

// camscope explorer: the URL fragment. Everything a view shows is in it: #overview,
// #grid?<filters>, #class/3, #lists, #image/12?<cam settings>&<the list's filters>; a link
// reproduces the view after a reload.
"use strict";

(function (cs) {
  // "#view/arg/arg?key=value&..." <-> {view, args, q (URLSearchParams)}
  function parseHash(hash) {
    const h = (hash === undefined ? location.hash : hash).replace(/^#/, "");
    const qi = h.indexOf("?");
    const path = qi < 0 ? h : h.slice(0, qi);
    const parts = path.split("/").filter((x) => x !== "");
    return { view: parts[0] || "overview", args: parts.slice(1), q: new URLSearchParams(qi < 0 ? "" : h.slice(qi + 1)) };
  }
  function hashOf(view, q) {
    const s = q ? q.toString() : "";
    return view + (s ? "?" + s : "");
  }
  function go(hash) { location.hash = "#" + hash; }
  // Updates the fragment without a new history entry and without re-rendering (CAM settings).
  function replaceHash(hash) { history.replaceState(null, "", "#" + hash); }

  cs.url = { parseHash, hashOf, go, replaceHash };
})(window.camscope = window.camscope || {});

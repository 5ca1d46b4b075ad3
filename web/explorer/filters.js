// camscope explorer: which images a list holds and in which order, as pure functions of the
// explorer data and the URL's filter keys (no DOM, no network: tests/web/filters.test.mjs runs
// them under node). Filters: ok=right|wrong, t (true class), p (predicted class), sc (superclass of
// the true class), cmin < conf <= cmax (the calibration bins' rule: a bin holds (lower, upper];
// cmin 0 keeps conf 0), flag=label|hce|lcc, deg=1 (degenerate CAM), fm (failure mode id: rows.mode,
// D.failure_modes), flip=distractor|missing|unstable|tested (the flip test: rows.flip, D.flips),
// tagged=1; sort
// index|conf|ptrue|lscore|centre, dir asc|desc (default: ascending for index, else descending),
// unknown values last, ties by row; ps: page size.
// Data fields of schema 2 (p_true, flags, lscore, centre, lists, superclasses, ...) are optional:
// without them the filter or sort key they drive is not offered.
"use strict";

(function (cs) {
  const FILTER_KEYS = ["ok", "t", "p", "sc", "cmin", "cmax", "flag", "deg", "fm", "flip", "tagged", "sort", "dir", "ps"];
  const flagBits = { hce: 1, lcc: 2, label: 4 };
  const flagNames = { label: "likely label error", hce: "high-confidence error", lcc: "low-confidence correct" };
  // The flip test's kinds of a tested error (report/flips.hpp), by what the prediction becomes with
  // the predicted class's top evidence removed: the true class, the same class, another one.
  const flipNames = { distractor: "distractor evidence", missing: "missing true evidence", unstable: "unstable" };
  const listOf = { label: "label_issues", hce: "high_conf_errors", lcc: "low_conf_correct" };

  function filterParams(q) {  // only the list-defining keys (image links carry them along)
    const f = new URLSearchParams();
    for (const k of FILTER_KEYS) if (q.has(k) && q.get(k) !== "") f.set(k, q.get(k));
    return f;
  }
  function intParam(q, k, lo, hi) {
    if (!q.has(k) || q.get(k) === "") return null;
    const v = Number(q.get(k));
    return Number.isInteger(v) && v >= lo && v < hi ? v : null;
  }
  function numParam(q, k) {
    if (!q.has(k) || q.get(k) === "") return null;
    const v = Number(q.get(k));
    return isFinite(v) ? v : null;
  }
  function pageSize(q) {
    const v = intParam(q, "ps", 1, 1001);
    return v || 60;
  }

  // The data's columns, the optional ones read the same way everywhere: C = columns(D).
  function columns(D) {
    const N = D.rows.label.length, K = D.classes.length;
    const has = (col) => Array.isArray(D.rows[col]) && D.rows[col].length === N;
    let flagSets = null;  // from D.lists when rows.flags is absent
    function flagOf(r) {
      if (has("flags")) return D.rows.flags[r] || 0;
      if (!flagSets) {
        flagSets = new Uint8Array(N);
        const L = D.lists || {};
        for (const [k, bit] of Object.entries(flagBits))
          for (const row of L[listOf[k]] || []) if (row >= 0 && row < N) flagSets[row] |= bit;
      }
      return flagSets[r];
    }
    const flagAvailable = (k) => has("flags") || !!(D.lists && Array.isArray(D.lists[listOf[k]]));
    const blankBits = (r) => (D.rows.blank ? D.rows.blank[r] || 0 : 0);
    const superOf = (c) => (D.superclasses && D.superclasses.of_class ? D.superclasses.of_class[c] : -1);
    // p(true class): the column when present, else from the top-k probabilities when the true class
    // is among them (null otherwise: unknown, sorted last).
    function pTrue(r) {
      if (has("p_true")) return D.rows.p_true[r];
      const i = D.rows.top[r].indexOf(D.rows.label[r]);
      return i >= 0 ? D.rows.top_p[r][i] : null;
    }
    const sorts = {
      index: { label: "image index", key: (r) => D.rows.index[r], ok: () => true },
      conf: { label: "confidence", key: (r) => D.rows.conf[r], ok: () => true },
      ptrue: { label: "p(true class)", key: pTrue, ok: () => true },
      lscore: { label: "label-error score", key: (r) => D.rows.lscore[r], ok: () => has("lscore") },
      centre: { label: "CAM centre share", key: (r) => D.rows.centre[r], ok: () => has("centre") },
    };
    // The degenerate (blank) CAMs counted by the run: {maps, degenerate[, by_pred_class]} or null.
    function degenerateCounts() {
      if (D.lists && D.lists.degenerate) return D.lists.degenerate;
      if (D.cam_health) return { maps: D.cam_health.maps, degenerate: D.cam_health.degenerate };
      return null;
    }
    // The failure modes (a class's errors grouped by their CAMs) and each row's: [] / -1 when absent.
    const modes = has("mode") && Array.isArray(D.failure_modes) ? D.failure_modes : [];
    const modeOf = (r) => (modes.length ? D.rows.mode[r] : -1);
    // The flip test: rows.flip is the prediction with the evidence removed (-1 not tested); its kind
    // (flipNames) or null where the row was not tested or the data has no flip test.
    const flips = has("flip") && D.flips ? D.flips : null;
    function flipOf(r) {
      const a = flips ? D.rows.flip[r] : -1;
      if (a === undefined || a === null || a < 0) return null;
      return a === D.rows.label[r] ? "distractor" : a === D.rows.pred[r] ? "missing" : "unstable";
    }
    return { D, N, K, has, flagOf, flagAvailable, blankBits, superOf, pTrue, sorts, degenerateCounts, modes, modeOf,
             flips, flipOf };
  }

  // The sort key a filter asks for when the data has it, else "index"; and its direction.
  function sortOf(C, f) {
    const s = f.get("sort");
    const key = C.sorts[s] && C.sorts[s].ok() ? s : "index";
    return { key, asc: f.get("dir") ? f.get("dir") === "asc" : key === "index" };
  }

  // The flip filter's value when the data has the flip test: a kind of flipNames or "tested"; else null.
  function flipParam(C, f) {
    const v = f.get("flip");
    return C.flips && (v === "tested" || Object.prototype.hasOwnProperty.call(flipNames, v)) ? v : null;
  }

  // The rows a filter selects, in its sort order. `tagged(r)`: whether row r has a tag (tagged=1).
  function select(C, q, tagged) {
    const f = filterParams(q);
    const D = C.D, X = D.rows, K = C.K, N = C.N;
    const ok = f.get("ok"), t = intParam(f, "t", 0, K), p = intParam(f, "p", 0, K);
    const sc = D.superclasses ? intParam(f, "sc", 0, D.superclasses.names.length) : null;
    const cmin = numParam(f, "cmin"), cmax = numParam(f, "cmax");
    const flag = flagBits[f.get("flag")] && C.flagAvailable(f.get("flag")) ? flagBits[f.get("flag")] : 0;
    const deg = f.get("deg") === "1", onlyTagged = f.get("tagged") === "1";
    const fm = intParam(f, "fm", 0, C.modes.length);
    const flip = flipParam(C, f);
    const out = [];
    for (let r = 0; r < N; ++r) {
      const l = X.label[r], pr = X.pred[r], c = X.conf[r];
      if (ok === "right" && l !== pr) continue;
      if (ok === "wrong" && l === pr) continue;
      if (t !== null && l !== t) continue;
      if (p !== null && pr !== p) continue;
      if (sc !== null && C.superOf(l) !== sc) continue;
      if (cmin !== null && cmin > 0 && !(c > cmin)) continue;
      if (cmax !== null && !(c <= cmax)) continue;
      if (flag && !(C.flagOf(r) & flag)) continue;
      if (deg && !(C.blankBits(r) & 1)) continue;
      if (fm !== null && C.modeOf(r) !== fm) continue;
      if (flip && (flip === "tested" ? C.flipOf(r) === null : C.flipOf(r) !== flip)) continue;
      if (onlyTagged && !tagged(r)) continue;
      out.push(r);
    }
    const { key, asc } = sortOf(C, f);
    const keyf = C.sorts[key].key;
    const keys = new Float64Array(N);
    for (const r of out) { const v = keyf(r); keys[r] = v === null || v === undefined ? NaN : v; }
    out.sort((a, b) => {
      const x = keys[a], y = keys[b];
      const nx = x !== x, ny = y !== y;  // unknown values last, either order
      if (nx || ny) return nx === ny ? a - b : nx ? 1 : -1;
      return (asc ? x - y : y - x) || a - b;
    });
    return out;
  }

  // select() remembered for the last filter (a re-render asks again); `version()` changes when the
  // tags do, for the tagged filter.
  function lister(C, tagged, version) {
    let cache = { key: null, rows: null };
    return (q) => {
      const f = filterParams(q);
      f.delete("ps");
      const key = f.toString() + (f.has("tagged") ? "|" + version() : "");
      if (cache.key !== key) cache = { key, rows: select(C, f, tagged) };
      return cache.rows;
    };
  }

  // The filter in words ("wrong, true cat, confidence 50.0%–100.0%"; "all images").
  function describe(C, q) {
    const D = C.D, name = (c) => D.classes[c], pct = cs.dom.pct;
    const f = filterParams(q), parts = [];
    const t = intParam(f, "t", 0, C.K), p = intParam(f, "p", 0, C.K);
    if (f.get("ok") === "right") parts.push("correct");
    if (f.get("ok") === "wrong") parts.push("wrong");
    if (t !== null) parts.push("true " + name(t));
    if (p !== null) parts.push("predicted " + name(p));
    const sc = D.superclasses ? intParam(f, "sc", 0, D.superclasses.names.length) : null;
    if (sc !== null) parts.push("superclass " + D.superclasses.names[sc]);
    const cmin = numParam(f, "cmin"), cmax = numParam(f, "cmax");
    if (cmin !== null || cmax !== null) parts.push("confidence " + pct(cmin === null ? 0 : cmin) + "–" + pct(cmax === null ? 1 : cmax));
    if (flagNames[f.get("flag")]) parts.push(flagNames[f.get("flag")]);
    if (f.get("deg") === "1") parts.push("degenerate CAM");
    const fm = intParam(f, "fm", 0, C.modes.length);
    if (fm !== null) parts.push("failure mode " + modeName(C, fm));
    const flip = flipParam(C, f);
    if (flip) parts.push("flip test: " + (flip === "tested" ? "tested" : flipNames[flip]));
    if (f.get("tagged") === "1") parts.push("tagged");
    return parts.length ? parts.join(", ") : "all images";
  }

  // "cat, mode 2 (14 errors)": a failure mode as the filter names it.
  function modeName(C, id) {
    const m = C.modes[id];
    return C.D.classes[m.cls] + ", mode " + m.mode + " (" + m.errors + " errors)";
  }

  // The filter of each of the report's lists (label issues by label-error score when the data has
  // it; high-confidence errors most confident first; low-confidence correct least confident first).
  function listParams(C, k) {
    return k === "label" ? (C.has("lscore") ? { flag: "label", sort: "lscore", dir: "desc" } : { flag: "label" })
         : k === "hce" ? { flag: "hce", sort: "conf", dir: "desc" } : { flag: "lcc", sort: "conf", dir: "asc" };
  }

  cs.filters = { FILTER_KEYS, flagBits, flagNames, flipNames, listOf, filterParams, intParam, numParam, pageSize, columns, sortOf,
                 select, lister, describe, listParams, modeName, flipParam };
})(window.camscope = window.camscope || {});

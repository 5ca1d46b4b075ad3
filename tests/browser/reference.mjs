// The explorer's list semantics re-computed from the raw rows, independently of web/explorer/:
// the browser tests check the page's grid against it, tests/web/filters.test.mjs the pure filter
// functions. Needs nothing but node.
// The grid's contract (docs/explorer.md): filters ok=right|wrong, t, p, sc (superclass of the
// true class), cmin < conf <= cmax (cmin 0: conf >= 0), flag=label|hce|lcc (rows.flags bits 4|1|2),
// deg=1 (rows.blank bit 1), flip=tested|distractor|missing|unstable (rows.flip: the prediction with
// the evidence removed, -1 untested; the true class: distractor, the same: missing, another:
// unstable; only where D.flips is present), tagged=1; sort index|conf|ptrue|lscore|centre, unknown values last,
// ties by row; default order ascending for index, else descending.
export function referenceList(D, params, tags = {}) {
  const q = new URLSearchParams(params);
  const X = D.rows, n = X.label.length, out = [];
  const num = (k) => (q.has(k) ? Number(q.get(k)) : null);
  const flagBit = { hce: 1, lcc: 2, label: 4 }[q.get("flag")] || 0;
  const flagsOf = (r) => {
    if (X.flags) return X.flags[r];
    let f = 0;
    const L = D.lists || {};
    if ((L.high_conf_errors || []).includes(r)) f |= 1;
    if ((L.low_conf_correct || []).includes(r)) f |= 2;
    if ((L.label_issues || []).includes(r)) f |= 4;
    return f;
  };
  for (let r = 0; r < n; ++r) {
    const l = X.label[r], p = X.pred[r], c = X.conf[r];
    if (q.get("ok") === "right" && l !== p) continue;
    if (q.get("ok") === "wrong" && l === p) continue;
    if (q.has("t") && l !== num("t")) continue;
    if (q.has("p") && p !== num("p")) continue;
    if (q.has("sc") && D.superclasses.of_class[l] !== num("sc")) continue;
    if (q.has("cmin") && num("cmin") > 0 && !(c > num("cmin"))) continue;
    if (q.has("cmax") && !(c <= num("cmax"))) continue;
    if (flagBit && !(flagsOf(r) & flagBit)) continue;
    if (q.get("deg") === "1" && !((X.blank || [])[r] & 1)) continue;
    if (D.flips && X.flip && ["tested", "distractor", "missing", "unstable"].includes(q.get("flip"))) {
      const a = X.flip[r], want = q.get("flip");
      if (a < 0) continue;
      if (want === "distractor" && a !== l) continue;
      if (want === "missing" && a !== p) continue;
      if (want === "unstable" && (a === l || a === p)) continue;
    }
    if (q.get("tagged") === "1" && !(tags[String(r)] || []).length) continue;
    out.push(r);
  }
  const sort = q.get("sort") || "index";
  const asc = q.has("dir") ? q.get("dir") === "asc" : sort === "index";
  const key = (r) => {
    switch (sort) {
      case "conf": return X.conf[r];
      case "ptrue": {
        if (X.p_true) return X.p_true[r];
        const i = X.top[r].indexOf(X.label[r]);
        return i >= 0 ? X.top_p[r][i] : null;
      }
      case "lscore": return X.lscore[r];
      case "centre": return X.centre[r];
      default: return X.index[r];
    }
  };
  return out.sort((a, b) => {
    const x = key(a), y = key(b);
    const nx = x === null || x === undefined, ny = y === null || y === undefined;
    if (nx || ny) return nx === ny ? a - b : nx ? 1 : -1;
    return (asc ? x - y : y - x) || a - b;
  });
}


// The explorer's filters and sort keys (web/explorer/filters.js), its CSV export
// (web/explorer/export.js) and the tags' chosen label (tags.js) under node, without a browser:
// hand-computed lists on a 6-image data set, then every filter and sort key on random data against the browser tests' independent
// reference (tests/browser/reference.mjs). Run: node tests/web/filters.test.mjs (CTest: web.filters).
import assert from "node:assert/strict";
import test from "node:test";

import { referenceList } from "../browser/reference.mjs";
import { load, plain } from "./load.mjs";

const cs = load("dom.js", "filters.js", "export.js");
const F = cs.filters;
const q = (s) => new URLSearchParams(s);
const rows = (C, s, tagged = () => false) => plain(F.select(C, q(s), tagged));

// 6 images, 3 classes. conf ties (rows 1, 2), conf 0 (row 0) and 1 (row 4); lscore unknown for 0, 2.
function small(extra = {}) {
  return {
    classes: ["cat", "dog", "eel"],
    superclasses: { names: ["mammal", "fish"], of_class: [0, 0, 1] },
    rows: {
      index: [10, 11, 12, 13, 14, 15],
      label: [0, 1, 1, 2, 2, 0],
      pred: [0, 0, 1, 1, 2, 2],
      conf: [0, 0.5, 0.5, 0.9, 1, 0.25],
      top: [[0, 1], [0, 1], [1, 0], [1, 0], [2, 1], [2, 1]],
      top_p: [[0.6, 0.3], [0.5, 0.3], [0.5, 0.4], [0.9, 0.05], [1, 0], [0.25, 0.2]],
      blank: [0, 1, 2, 3, 0, 1],
      lscore: [null, 0.3, null, 0.9, 0.1, 0.3],
      ...extra,
    },
    lists: { label_issues: [3], high_conf_errors: [3, 1], low_conf_correct: [0] },
  };
}

test("filters select the hand-computed rows", () => {
  const C = F.columns(small());
  assert.deepEqual(rows(C, ""), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(rows(C, "ok=wrong"), [1, 3, 5]);
  assert.deepEqual(rows(C, "ok=right"), [0, 2, 4]);
  assert.deepEqual(rows(C, "t=1"), [1, 2]);
  assert.deepEqual(rows(C, "p=2"), [4, 5]);
  assert.deepEqual(rows(C, "t=1&p=0"), [1]);
  assert.deepEqual(rows(C, "sc=1"), [3, 4], "superclass of the true class");
  // (cmin, cmax]: a calibration bin; cmin 0 keeps conf 0
  assert.deepEqual(rows(C, "cmin=0&cmax=0.5"), [0, 1, 2, 5]);
  assert.deepEqual(rows(C, "cmin=0.5&cmax=1"), [3, 4]);
  assert.deepEqual(rows(C, "cmin=0.25"), [1, 2, 3, 4]);
  // flags from D.lists when rows.flags is absent
  assert.deepEqual(rows(C, "flag=hce"), [1, 3]);
  assert.deepEqual(rows(C, "flag=label"), [3]);
  assert.deepEqual(rows(C, "flag=lcc"), [0]);
  assert.deepEqual(rows(C, "deg=1"), [1, 3, 5], "bit 1 of rows.blank: the predicted class's map");
  assert.deepEqual(rows(C, "tagged=1", (r) => r === 2 || r === 4), [2, 4]);
  assert.deepEqual(rows(C, "tagged=0", (r) => r === 2), [0, 1, 2, 3, 4, 5]);
});

test("values out of range or not numbers filter nothing", () => {
  const C = F.columns(small());
  for (const s of ["t=3", "t=-1", "t=abc", "t=1.5", "p=", "sc=2", "cmin=x", "flag=nope", "ok=maybe", "deg=2"])
    assert.deepEqual(rows(C, s), [0, 1, 2, 3, 4, 5], s);
});

test("fm: the rows of one failure mode (rows.mode, D.failure_modes); absent data filters nothing", () => {
  const modes = [{ id: 0, cls: 0, mode: 1, errors: 1, description: "looks at the top-left corner" },
                 { id: 1, cls: 1, mode: 1, errors: 1, description: "looks all over the image" }];
  const D = small({ mode: [-1, 1, -1, -1, -1, 0] });
  D.failure_modes = modes;
  const C = F.columns(D);
  assert.deepEqual(rows(C, "fm=0"), [5]);
  assert.deepEqual(rows(C, "fm=1"), [1]);
  assert.deepEqual(rows(C, "fm=1&t=0"), []);
  assert.deepEqual(rows(C, "fm=2"), [0, 1, 2, 3, 4, 5], "no such mode");
  assert.equal(F.describe(C, q("fm=0")), "failure mode cat, mode 1 (1 errors)");
  const old = F.columns(small());  // data written before failure modes
  assert.deepEqual(rows(old, "fm=0"), [0, 1, 2, 3, 4, 5]);
  assert.equal(F.describe(old, q("fm=0")), "all images");
});

test("flip: the flip test's kinds (rows.flip vs label and pred, D.flips); absent data filters nothing", () => {
  // errors: row 1 (1 -> 0), 3 (2 -> 1), 5 (0 -> 2); 1 flips to its true class, 3 stays, 5 goes to a third
  const D = small({ flip: [-1, 1, -1, 1, -1, 1] });
  D.flips = { fraction: 0.2, tested: 3, distractor: 1, missing: 1, unstable: 1, headline: "" };
  const C = F.columns(D);
  assert.deepEqual(rows(C, "flip=tested"), [1, 3, 5]);
  assert.deepEqual(rows(C, "flip=distractor"), [1]);
  assert.deepEqual(rows(C, "flip=missing"), [3]);
  assert.deepEqual(rows(C, "flip=unstable"), [5]);
  assert.deepEqual(rows(C, "flip=missing&t=0"), []);
  assert.deepEqual(rows(C, "flip=nope"), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(C.flipOf), [null, "distractor", null, "missing", null, "unstable"]);
  assert.equal(F.describe(C, q("flip=distractor")), "flip test: distractor evidence");
  const old = F.columns(small());  // data written before the flip test
  assert.deepEqual(rows(old, "flip=tested"), [0, 1, 2, 3, 4, 5]);
  assert.equal(old.flipOf(1), null);
  assert.equal(F.describe(old, q("flip=tested")), "all images");
});

test("sort keys: natural direction, unknown values last, ties by row", () => {
  const C = F.columns(small());
  assert.deepEqual(rows(C, "sort=conf"), [4, 3, 1, 2, 5, 0], "scores descend by default");
  assert.deepEqual(rows(C, "sort=conf&dir=asc"), [0, 5, 1, 2, 3, 4]);
  assert.deepEqual(rows(C, "sort=index&dir=desc"), [5, 4, 3, 2, 1, 0]);
  assert.deepEqual(rows(C, "sort=lscore"), [3, 1, 5, 4, 0, 2]);
  assert.deepEqual(rows(C, "sort=lscore&dir=asc"), [4, 1, 5, 3, 0, 2]);
  // p(true) from the top-k when there is no p_true column: rows 3 and 5 lack their true class
  assert.deepEqual(rows(C, "sort=ptrue"), [4, 0, 2, 1, 3, 5]);
  assert.deepEqual(rows(F.columns(small({ p_true: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] })), "sort=ptrue&dir=asc"), [0, 1, 2, 3, 4, 5]);
  // a key the data lacks falls back to the index
  assert.deepEqual(rows(C, "sort=centre"), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(plain(F.sortOf(C, q("sort=centre&dir=desc"))), { key: "index", asc: false });
  assert.deepEqual(plain(F.sortOf(C, q("sort=lscore"))), { key: "lscore", asc: false });
  assert.deepEqual(Object.keys(C.sorts).filter((k) => C.sorts[k].ok()), ["index", "conf", "ptrue", "lscore"]);
});

test("rows.flags wins over the lists; a column of the wrong length is absent", () => {
  const C = F.columns(small({ flags: [4, 0, 0, 1, 0, 2] }));
  assert.deepEqual(rows(C, "flag=label"), [0]);
  assert.deepEqual(rows(C, "flag=lcc"), [5]);
  const D = small({ lscore: [1, 2] });
  assert.equal(F.columns(D).has("lscore"), false);
  const noLists = small();
  delete noLists.lists;
  assert.equal(F.columns(noLists).flagAvailable("label"), false);
  assert.deepEqual(rows(F.columns(noLists), "flag=label"), [0, 1, 2, 3, 4, 5], "a flag the data lacks filters nothing");
});

test("the list's words, page size and the report lists' filters", () => {
  const C = F.columns(small());
  assert.equal(F.describe(C, q("")), "all images");
  assert.equal(F.describe(C, q("ok=wrong&t=1&p=0&sc=0&cmin=0.5&flag=hce&deg=1&tagged=1&sort=conf")),
               "wrong, true dog, predicted cat, superclass mammal, confidence 50.0%–100.0%, high-confidence error, degenerate CAM, tagged");
  assert.equal(F.pageSize(q("")), 60);
  assert.equal(F.pageSize(q("ps=24")), 24);
  assert.equal(F.pageSize(q("ps=5000")), 60);
  assert.deepEqual(plain(F.listParams(C, "label")), { flag: "label", sort: "lscore", dir: "desc" });
  assert.deepEqual(plain(F.listParams(F.columns(small({ lscore: undefined })), "label")), { flag: "label" });
  assert.deepEqual(plain(F.listParams(C, "lcc")), { flag: "lcc", sort: "conf", dir: "asc" });
  assert.deepEqual([...F.filterParams(q("t=1&page=3&target=2&ps=24&cmin="))], [["t", "1"], ["ps", "24"]]);
});

test("the list is remembered until the filter or, for tagged=1, the tags change", () => {
  const C = F.columns(small());
  const tagged = new Set([1]);
  let version = 0;
  const list = F.lister(C, (r) => tagged.has(r), () => version);
  const a = list(q("ok=wrong&ps=24&page=2"));
  assert.equal(list(q("ok=wrong")), a, "page and page size do not change the list");
  assert.deepEqual(plain(list(q("tagged=1"))), [1]);
  tagged.add(3);
  assert.deepEqual(plain(list(q("tagged=1"))), [1], "same version: remembered");
  version++;
  assert.deepEqual(plain(list(q("tagged=1"))), [1, 3]);
});

// ------------------------------------------------------------------ random data vs the reference
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function randomData(seed, n, k, withColumns) {
  const r = rng(seed), pick = (m) => Math.floor(r() * m);
  const X = { index: [], label: [], pred: [], conf: [], top: [], top_p: [], blank: [] };
  if (withColumns) Object.assign(X, { flags: [], lscore: [], centre: [], p_true: [], flip: [] });
  const perm = [...Array(n).keys()].sort(() => r() - 0.5);
  for (let i = 0; i < n; ++i) {
    const label = pick(k), pred = r() < 0.6 ? label : pick(k);
    const conf = Math.round(r() * 20) / 20;  // ties and exact bin edges
    X.index.push(1000 + perm[i]);
    X.label.push(label);
    X.pred.push(pred);
    X.conf.push(conf);
    const top = [pred, ...[...Array(k).keys()].filter((c) => c !== pred).sort(() => r() - 0.5)].slice(0, 3);
    X.top.push(top);
    X.top_p.push(top.map((_, j) => (j === 0 ? conf : Math.round(r() * conf * 10) / 20)));
    X.blank.push(pick(4));
    if (withColumns) {
      X.flags.push(pick(8));
      X.lscore.push(r() < 0.2 ? null : Math.round(r() * 10) / 10);
      X.centre.push(Math.round(r() * 5) / 5);
      X.p_true.push(Math.round(r() * 10) / 10);
      // the flip test on about half the errors: the true class, the same class or any class after
      X.flip.push(label === pred || r() < 0.5 ? -1 : pick(3) === 0 ? label : pick(2) === 0 ? pred : pick(k));
    }
  }
  const rowsWhere = (f) => [...Array(n).keys()].filter(f);
  const D = { classes: [...Array(k).keys()].map((c) => "class " + c), rows: X,
              superclasses: { names: ["even", "odd"], of_class: [...Array(k).keys()].map((c) => c % 2) } };
  if (withColumns) D.flips = { fraction: 0.2 };  // the counts are not what the filter reads
  if (!withColumns)
    D.lists = { label_issues: rowsWhere((i) => X.label[i] !== X.pred[i] && i % 3 === 0),
                high_conf_errors: rowsWhere((i) => X.label[i] !== X.pred[i] && X.conf[i] >= 0.8),
                low_conf_correct: rowsWhere((i) => X.label[i] === X.pred[i] && X.conf[i] < 0.3) };
  return D;
}

test("every filter and sort key agrees with the reference on random data", () => {
  for (const [seed, withColumns] of [[1, true], [2, false], [3, true]]) {
    const D = randomData(seed, 300, 7, withColumns), C = F.columns(D);
    const tags = {};
    for (let i = 0; i < 300; i += 7) tags[String(i)] = ["ok"];
    const tagged = (row) => (tags[String(row)] || []).length > 0;
    const r = rng(seed * 101), pick = (a) => a[Math.floor(r() * a.length)];
    const sortKeys = withColumns ? ["index", "conf", "ptrue", "lscore", "centre"] : ["index", "conf", "ptrue"];
    const cases = [];
    for (const sort of sortKeys) for (const dir of [null, "asc", "desc"]) cases.push({ sort, ...(dir ? { dir } : {}) });
    for (let i = 0; i < 400; ++i) {
      const p = {};
      const maybe = (key, values) => { if (r() < 0.3) p[key] = String(pick(values)); };
      maybe("ok", ["right", "wrong"]);
      maybe("t", [0, 3, 6]);
      maybe("p", [1, 3]);
      maybe("sc", [0, 1]);
      maybe("cmin", [0, 0.25, 0.5, 0.8]);
      maybe("cmax", [0.5, 0.8, 1]);
      maybe("flag", ["label", "hce", "lcc"]);
      maybe("deg", [1]);
      maybe("flip", ["tested", "distractor", "missing", "unstable", "other"]);
      maybe("tagged", [1]);
      maybe("sort", sortKeys);
      maybe("dir", ["asc", "desc"]);
      cases.push(p);
    }
    let nonEmpty = 0;
    for (const p of cases) {
      const got = plain(F.select(C, new URLSearchParams(p), tagged));
      assert.deepEqual(got, referenceList(D, p, tags), JSON.stringify(p) + " (seed " + seed + ")");
      if (got.length) nonEmpty++;
    }
    assert.ok(nonEmpty > cases.length / 3, "most random filters select something (" + nonEmpty + " of " + cases.length + ")");
  }
});

// ------------------------------------------------------------------ export
test("CSV cells are quoted when they hold quotes, separators or start like a formula", () => {
  const E = cs.exporter;
  assert.equal(E.csvCell("cat"), "cat");
  assert.equal(E.csvCell(0.5), "0.5");
  assert.equal(E.csvCell('a "b"'), '"a ""b"""');
  assert.equal(E.csvCell("a,b"), '"a,b"');
  assert.equal(E.csvCell("line\nbreak"), '"line\nbreak"');
  for (const f of ["=1+2", "+1", "-1", "@SUM(A1)"]) assert.equal(E.csvCell(f), '"' + f + '"', f);
  const D = small();
  const recs = E.records(D, [3, 0], (r) => (r === 3 ? ["relabel", "odd, tag"] : []));
  assert.deepEqual(plain(recs[0]), { row: 3, index: 13, label: 2, label_name: "eel", prediction: 1, prediction_name: "dog",
                                     confidence: 0.9, tags: ["relabel", "odd, tag"] });
  assert.equal(E.toCsv(recs), "row,index,label,label_name,prediction,prediction_name,confidence,tags\n" +
                              '3,13,2,eel,1,dog,0.9,"relabel;odd, tag"\n0,10,0,cat,0,cat,0,\n');
});

test("pct: one formatter for the explorer and compare's page", () => {
  const { pct } = cs.dom;
  assert.equal(pct(0.1234), "12.3%");
  assert.equal(pct(0.1234, 2, " "), "12.34 %");
  assert.equal(pct(1), "100.0%");
  for (const v of [null, undefined, NaN, Infinity, "0.5"]) assert.equal(pct(v), "–", String(v));
});

test("tags: a chosen label is one relabel:<class index> (tags.js; serve/tags.hpp's format)", () => {
  const T = load("tags.js").tags;
  for (const t of ["relabel", "ok", "Ambiguous case_2", "relabel:0", "relabel:12"]) assert.ok(T.valid(t), t);
  for (const t of ["relabel:", "relabel:03", "relabel:-1", "ok:1", "relabel:1x", "<b>"]) assert.ok(!T.valid(t), t);
  assert.equal(T.chosen(["ok", "relabel", "relabel:7"]), 7);
  assert.equal(T.chosen(["relabel"]), -1);
  // choosing a label replaces the one chosen before and sets "relabel"; -1 removes only the chosen label
  assert.deepEqual(plain(T.withLabel(["ok", "relabel:2"], 5)), ["ok", "relabel", "relabel:5"]);
  assert.deepEqual(plain(T.withLabel(["relabel", "relabel:2", "x"], -1)), ["relabel", "x"]);
  const name = (c) => ["cat", "dog"][c];
  assert.equal(T.text("relabel:1", name), "relabel → dog");
  assert.equal(T.text("relabel:9", name), "relabel:9");  // a class the data lacks: the tag as it is
  assert.equal(T.text("ok", name), "ok");
});

test("pctCi: a share with its 95 % interval, the share alone where data has none", () => {
  const { pctCi } = cs.dom;
  assert.equal(pctCi(0.3, [0.10779, 0.60322]), "30.0% (10.8\u201360.3%)");
  assert.equal(pctCi(0.3, null), "30.0%");  // summary.json's null: no images
  assert.equal(pctCi(0.3, undefined), "30.0%");  // data written before intervals
  assert.equal(pctCi(0.3, [0.1]), "30.0%");
  assert.equal(pctCi(NaN, [0.1, 0.2]), "–");
});

// The explorer as an error browser, in Debian's headless chromium (playwright-core), served and
// offline: the grid's filters and sort against lists computed here from the raw rows, paging to the
// last image of the largest confusion cell, the URL round trip (reload and a fresh browser
// context), keyboard navigation, tags (across a server restart / a reload), export, the image
// view's tools, the lists view, and the layout at 1440×900 and 800 px. Prints the time to first
// render and the largest payload (no wall-clock assertion). Screenshots to $CAMSCOPE_ARTIFACTS.
//
// Optional: CAMSCOPE_LARGE_RESULTS=<results folder> (e.g. a 50,000-image synthetic analysis)
// measures the first render on that too (served with --results).
// One file of ~650 lines on purpose: one browser session and one served + offline pair of
// explorers are set up once (minutes in chromium) and every check runs against them in order.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MODEL, DATA, BIN, ART, CHROMIUM, loadChromium, state, step, shot, startServer, stopServer,
         referenceList, gridRows, parseCsv } from "./lib.mjs";

const chromium = await loadChromium();
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
const pageErrors = [];
async function newPage(ctx, viewport = { width: 1440, height: 900 }) {
  const page = await (ctx || browser).newPage({ viewport, acceptDownloads: true });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
  return page;
}
const ready = (page, mode) => page.waitForFunction((m) => document.body.dataset.ready === m, mode, { timeout: 60000 });
const viewIs = (page, v) => page.waitForFunction((v) => document.body.dataset.view === v, v, { timeout: 30000 });
const hashParams = (page) => page.evaluate(() => {
  const h = location.hash.slice(1), i = h.indexOf("?");
  return { path: i < 0 ? h : h.slice(0, i), q: Object.fromEntries(new URLSearchParams(i < 0 ? "" : h.slice(i + 1))) };
});

/** Time to first render and the largest payload of a fresh load of `url` (printed, not asserted). */
async function measure(label, url, mode) {
  const page = await newPage();
  await page.goto(url);
  await ready(page, mode);
  const m = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const res = performance.getEntriesByType("resource").concat([nav]);
    const big = res.reduce((a, b) => ((b.encodedBodySize || 0) > (a.encodedBodySize || 0) ? b : a));
    return { first_render_ms: Math.round(window.CAMSCOPE_FIRST_RENDER_MS), name: big.name.replace(/^.*\//, ""),
             encoded: big.encodedBodySize, decoded: big.decodedBodySize, n: window.CAMSCOPE_N };
  });
  if (url.startsWith("file:")) {  // no transfer sizes from file://: the data file's size on disk
    const js = path.join(path.dirname(fileURLToPath(url.replace(/#.*$/, ""))), "data.js");
    console.log(`measure ${label}: first render ${m.first_render_ms} ms after navigation start; data.js ${fs.statSync(js).size} bytes`);
  } else {
    console.log(`measure ${label}: first render ${m.first_render_ms} ms after navigation start; largest payload ${m.name} ` +
                `${m.encoded} bytes on the wire (${m.decoded} decoded)`);
  }
  await page.close();
  return m;
}

/** The grid at `params` (all on one page) equals the reference list. */
async function checkList(page, base, D, params, tags, label) {
  const q = new URLSearchParams({ ...params, ps: "1000" });
  await page.goto(base + "#grid?" + q.toString());
  await viewIs(page, "grid");
  await page.waitForFunction((h) => location.hash === h, "#grid?" + q.toString());
  const want = referenceList(D, params, tags);
  const got = await gridRows(page);
  assert.equal(+(await page.getAttribute("#grid", "data-total")), want.length, label + ": count");
  assert.deepEqual(got, want.slice(0, 1000), label + ": rows and order");
  return want;
}

async function filtersAndSort(page, base, D, mode) {
  const K = D.classes.length;
  const wrong = D.rows.label.map((l, r) => (l !== D.rows.pred[r] ? r : -1)).filter((r) => r >= 0);
  assert.ok(wrong.length > 0);
  const cases = [
    [{}, "all, by index"],
    [{ ok: "wrong", sort: "conf", dir: "desc" }, "wrong, most confident first"],
    [{ ok: "right", sort: "conf", dir: "asc" }, "correct, least confident first"],
    [{ t: "3" }, "true class 3"],
    [{ p: "5", sort: "ptrue", dir: "asc" }, "predicted 5 by p(true)"],
    [{ t: String(D.rows.label[wrong[0]]), p: String(D.rows.pred[wrong[0]]), sort: "conf", dir: "desc" }, "a confusion cell"],
    [{ cmin: "0.3", cmax: "0.6", sort: "conf", dir: "desc" }, "confidence range"],
    [{ ok: "wrong", sort: "index", dir: "desc" }, "wrong by index descending"],
  ];
  if (D.rows.blank && D.rows.blank.some((b) => b & 1)) cases.push([{ deg: "1" }, "degenerate CAM"]);
  if (D.rows.flags || D.lists) {
    cases.push([{ flag: "label", sort: D.rows.lscore ? "lscore" : "conf", dir: "desc" }, "likely label errors"]);
    cases.push([{ flag: "hce", sort: "conf", dir: "desc" }, "high-confidence errors"]);
  }
  if (D.rows.centre) cases.push([{ ok: "wrong", sort: "centre", dir: "desc" }, "by CAM centre share"]);
  if (D.superclasses) cases.push([{ sc: "0", ok: "wrong" }, "superclass 0"]);
  if (D.flips) for (const k of ["tested", "distractor", "missing", "unstable"]) cases.push([{ flip: k }, "flip test " + k]);
  for (const [params, label] of cases) await checkList(page, base, D, params, {}, `${mode} ${label}`);
  assert.ok(K >= 10);
  // The controls write the fragment: choose "wrong" and sort by confidence through the form.
  await page.goto(base + "#grid");
  await viewIs(page, "grid");
  await page.selectOption("#f-ok", "wrong");
  await page.waitForFunction(() => /ok=wrong/.test(location.hash));
  await page.selectOption("#f-sort", "conf");
  await page.waitForFunction(() => /sort=conf/.test(location.hash));
  const { q } = await hashParams(page);
  assert.equal(q.ok, "wrong");
  assert.equal(q.dir, "desc", "a score sort starts descending");
  const want = referenceList(D, { ok: "wrong", sort: "conf", dir: "desc" });
  assert.deepEqual(await gridRows(page), want.slice(0, 60), "the first page after choosing filters in the form");
  await shot(page, `${mode}-grid.png`, false);
}

/** The matrix's largest cell opens the grid pre-filtered; paging reaches its last image. */
async function largestCell(page, base, D, mode) {
  await page.goto(base + "#overview");
  await viewIs(page, "overview");
  const cells = await page.$$eval("td.cell", (tds) => tds.map((td) => ({ t: +td.dataset.t, p: +td.dataset.p, n: +td.dataset.count })));
  const c = cells.sort((a, b) => b.n - a.n || a.t - b.t)[0];
  assert.equal(c.n, D.confusion.counts[c.t][c.p]);
  const td = page.locator(`td.cell[data-t='${c.t}'][data-p='${c.p}']`);
  await td.hover();
  await page.locator("#tooltip").waitFor({ state: "visible" });
  assert.match(await page.textContent("#tooltip"), new RegExp(`${c.n} images`));
  await td.click();
  await viewIs(page, "grid");
  const want = referenceList(D, { t: c.t, p: c.p, sort: "conf", dir: "desc" });
  assert.equal(want.length, c.n);
  assert.match(await page.textContent("#grid-title"), new RegExp(`: ${c.n} images?$`));
  // Pages of 24 (the form), or of 8 (the fragment) where the cell is smaller than three pages of 24.
  const ps = c.n > 48 ? 24 : 8;
  if (ps === 24) {
    await page.selectOption("#f-ps", "24");
    await page.waitForFunction(() => /ps=24/.test(location.hash));
  } else {
    await page.evaluate(() => { location.hash += "&ps=8"; });
    await page.waitForFunction(() => document.getElementById("grid").querySelectorAll(".tile").length === 8);
  }
  const pages = Math.ceil(c.n / ps);
  assert.ok(pages >= 3, `the largest cell (${c.n}) spans pages of ${ps}`);
  assert.deepEqual(await gridRows(page), want.slice(0, ps));
  await page.click("#pg-next");
  await page.waitForFunction(() => document.getElementById("grid").dataset.page === "2");
  assert.deepEqual(await gridRows(page), want.slice(ps, 2 * ps));
  await page.click("#pg-last");
  await page.waitForFunction((p) => document.getElementById("grid").dataset.page === String(p), pages);
  const last = await gridRows(page);
  assert.deepEqual(last, want.slice((pages - 1) * ps));
  assert.equal(last[last.length - 1], want[want.length - 1], "the last image of the cell is reachable");
  assert.ok(await page.isDisabled("#pg-next"));
  return c;
}

/** Keyboard: tiles (arrows, Enter), the image view (j/k, ←/→ within the list), the matrix (arrows). */
async function keyboard(page, base, D, mode) {
  const params = { ok: "wrong", sort: "conf", dir: "desc" };
  const want = referenceList(D, params);
  await page.goto(base + "#grid?" + new URLSearchParams(params));
  await viewIs(page, "grid");
  await page.focus("#grid .tile[tabindex='0']");
  await page.keyboard.press("ArrowRight");
  assert.equal(await page.evaluate(() => +document.activeElement.dataset.row), want[1], "→ moves to the second tile");
  await page.keyboard.press("ArrowLeft");
  assert.equal(await page.evaluate(() => +document.activeElement.dataset.row), want[0]);
  // ↓ goes to the tile below (the first of the next visual row), ↑ back
  const perRow = await page.$$eval("#grid .tile", (t) => t.findIndex((x) => x.offsetTop !== t[0].offsetTop));
  if (perRow > 0) {
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.evaluate(() => +document.activeElement.dataset.row), want[perRow]);
    await page.keyboard.press("ArrowUp");
    assert.equal(await page.evaluate(() => +document.activeElement.dataset.row), want[0]);
  }
  // r toggles "relabel" on the focused image (and keeps the focus there); r again removes it.
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("r");
  await page.waitForSelector(`#grid .tile[data-row='${want[1]}'] .chip`);
  assert.deepEqual(await page.$$eval(`#grid .tile[data-row='${want[1]}'] .chip`, (c) => c.map((x) => x.textContent)), ["relabel"]);
  assert.equal(await page.evaluate(() => +document.activeElement.dataset.row), want[1]);
  await page.keyboard.press("r");
  await page.waitForFunction((r) => !document.querySelector(`#grid .tile[data-row='${r}'] .chip`), want[1]);
  await page.keyboard.press("Enter");
  await viewIs(page, "image");
  assert.equal((await hashParams(page)).path, "image/" + want[1]);
  const at = async () => +(await hashParams(page)).path.split("/")[1];
  // The fragment changes before the hashchange handler draws the view: wait for both.
  const imageShown = (p, r) => p.waitForFunction((r) => location.hash.startsWith("#image/" + r + "?") &&
                                                  document.getElementById("image-title").textContent.endsWith("(row " + r + ")"), r);
  await page.keyboard.press("j");
  await imageShown(page, want[2]);
  await page.keyboard.press("ArrowRight");
  await imageShown(page, want[3]);
  await page.keyboard.press("k");
  await imageShown(page, want[2]);
  await page.keyboard.press("ArrowLeft");
  await imageShown(page, want[1]);
  assert.equal(await at(), want[1]);
  assert.match(await page.textContent("#img-pos"), new RegExp(`^2 of ${want.length} `));
  await page.click("#img-next");
  await imageShown(page, want[2]);
  // The matrix: one cell in the tab order, arrows move the focus, Enter opens.
  await page.goto(base + "#overview");
  await viewIs(page, "overview");
  await page.focus("td.cell[tabindex='0']");
  const pos = () => page.evaluate(() => [+document.activeElement.dataset.i, +document.activeElement.dataset.j]);
  assert.deepEqual(await pos(), [0, 0]);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  assert.deepEqual(await pos(), [2, 1]);
  const cell = await page.evaluate(() => ({ t: +document.activeElement.dataset.t, p: +document.activeElement.dataset.p }));
  await page.keyboard.press("Enter");
  await viewIs(page, "grid");
  const { q } = await hashParams(page);
  assert.equal(+q.t, cell.t);
  assert.equal(+q.p, cell.p);
}

/** View state in the fragment: grid filters and the image view's CAM settings survive a reload and
 *  open the same in a fresh browser context. */
async function urlRoundTrip(page, base, D, mode, live) {
  const params = { ok: "wrong", sort: "conf", dir: "desc" };
  const want = referenceList(D, params);
  await page.goto(base + "#grid?" + new URLSearchParams({ ...params, ps: "24" }));
  await viewIs(page, "grid");
  if (want.length > 24) {
    await page.click("#pg-next");
    await page.waitForFunction(() => /page=2/.test(location.hash));
  }
  const gridHash = await page.evaluate(() => location.hash);
  const before = await gridRows(page);
  await page.reload();
  await ready(page, live ? "live" : "offline");
  await viewIs(page, "grid");
  assert.deepEqual(await gridRows(page), before, "the same page after reload");
  assert.equal(await page.inputValue("#f-ok"), "wrong");
  assert.equal(await page.inputValue("#f-sort"), "conf");
  // The image view: target, opacity, zoom (and, served, method and heatmap-only) in the URL.
  const row = want[0];
  await page.goto(base + "#image/" + row + "?" + new URLSearchParams(params));
  await viewIs(page, "image");
  await page.selectOption("#target-select", "true");
  await page.selectOption("#zoom", "2");
  if (live) {
    const methods = await page.$$eval("#method-select option", (o) => o.map((x) => x.value));
    await page.selectOption("#method-select", methods.includes("gradcampp") ? "gradcampp" : methods[1]);
    await page.waitForFunction(() => document.getElementById("cam-img").dataset.view === "heatmap", null, { timeout: 30000 });
    await page.fill("#opacity", "0.4");
    await page.dispatchEvent("#opacity", "input");
    await page.check("#heat-only");
    await page.waitForFunction(() => /op=0.4/.test(location.hash) && /heat=1/.test(location.hash));
  } else {
    assert.ok(await page.isHidden("#opacity-label"), "offline: overlays only, no opacity slider");
  }
  await page.waitForFunction(() => /zoom=2/.test(location.hash) && /target=true/.test(location.hash));
  const h = await page.evaluate(() => location.hash);
  const expect = async (p) => {
    await viewIs(p, "image");
    assert.equal(await p.evaluate(() => location.hash), h);
    assert.equal(await p.inputValue("#target-select"), "true");
    assert.equal(await p.inputValue("#zoom"), "2");
    assert.equal(await p.$eval("#stage", (s) => s.style.width), "640px");
    assert.match(await p.textContent("#img-pos"), new RegExp(`^1 of ${want.length} `), "the list rides along");
    if (live) {
      assert.equal(await p.inputValue("#opacity"), "0.4");
      assert.ok(await p.isChecked("#heat-only"));
      assert.notEqual(await p.inputValue("#method-select"), "gradcam");
    }
  };
  await page.reload();
  await ready(page, live ? "live" : "offline");
  await expect(page);
  // Another browser (a fresh context: no shared storage or history).
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const p2 = await newPage(ctx);
  await p2.goto(base + h);
  await ready(p2, live ? "live" : "offline");
  await expect(p2);
  await p2.goto(base + gridHash);
  await viewIs(p2, "grid");
  assert.deepEqual(await gridRows(p2), before);
  await ctx.close();
}

/** The flip test (issue 25) in the offline copy: the image view's line on a tested error, none on an
 *  untested row; the sanity gate's warning and CAM note exactly when the report's gate failed. */
async function flipAndSanity(page, base, D) {
  const failed = !!(D.sanity && D.sanity.passed === false);
  await page.goto(base + "#grid");
  await viewIs(page, "grid");
  assert.equal(await page.isVisible("#f-flip"), !!D.flips, "the flip filter exactly where the data has the flip test");
  await page.goto(base + "#overview");
  await viewIs(page, "overview");
  assert.equal(await page.isVisible("#sanity-warning"), failed, "the sanity warning exactly when the gate failed");
  if (failed) assert.equal(await page.textContent("#sanity-warning p"), D.sanity.warning[0]);
  const tested = D.flips ? D.rows.flip.flatMap((a, r) => (a >= 0 ? [r] : [])) : [];
  if (D.flips) assert.equal(tested.length, D.flips.tested);
  console.log(`     flip test: ${tested.length} tested; sanity gate: ${D.sanity ? (failed ? "failed" : "passed") : "not run"}`);
  const untested = D.rows.label.findIndex((l, r) => !tested.includes(r));
  for (const r of [...tested.slice(0, 1), untested]) {
    await page.goto(base + "#image/" + r);
    await viewIs(page, "image");
    await page.waitForFunction((h) => document.getElementById("image-title").textContent.includes("(row " + h + ")"), r);
    if (tested.includes(r)) {
      const a = D.rows.flip[r];
      const kind = a === D.rows.label[r] ? "distractor evidence" : a === D.rows.pred[r] ? "missing true evidence" : "unstable";
      assert.equal(await page.textContent("#image-flip"), "flip test: removing the top " + Math.round(100 * D.flips.fraction) +
                   " % of the predicted class's evidence gives '" + D.classes[a] + "' (" + kind + ")");
    }
    assert.equal(await page.isVisible("#image-flip"), tested.includes(r), "the flip line on tested errors only");
    assert.equal(await page.isVisible("#cam-sanity"), failed, "the CAM panel's sanity note exactly when the gate failed");
  }
}

/** The image view's tools (served: live maps). */
async function imageTools(page, base, D) {
  const row = D.rows.label.findIndex((l, r) => l !== D.rows.pred[r]);
  await page.goto(base + "#image/" + row);
  await viewIs(page, "image");
  const camReady = () => page.waitForFunction(() => {
    const i = document.getElementById("cam-img");
    return !i.dataset.loading && i.dataset.fingerprint && i.complete && i.naturalWidth > 0;
  }, null, { timeout: 30000 });
  await camReady();
  // The server's heatmap (no image blended, at the input's size) lies over the input image; the
  // slider is its opacity α (0.5 by default: the overlay's blend); "heatmap only" hides the image.
  assert.equal(await page.getAttribute("#cam-img", "data-view"), "heatmap", "api/cam answered view=heatmap");
  const size = (sel) => page.$eval(sel, (i) => [i.naturalWidth, i.naturalHeight]);
  assert.ok((await size("#image-input"))[0] > 0);
  assert.deepEqual(await size("#cam-img"), await size("#image-input"), "the heatmap has the input's size");
  const opacity = () => page.$eval("#cam-img", (i) => getComputedStyle(i).opacity);
  assert.equal(await opacity(), "0.5");
  await page.fill("#opacity", "0");
  await page.dispatchEvent("#opacity", "input");
  assert.equal(await opacity(), "0");
  await page.fill("#opacity", "0.8");
  await page.dispatchEvent("#opacity", "input");
  assert.equal(await opacity(), "0.8");
  // Top-k rows are buttons that make the class the target.
  const second = D.rows.top[row][1];
  await page.click(`#image-top tr[data-cls='${second}'] button`);
  await page.waitForFunction((c) => document.getElementById("cam-img").dataset.target === String(c), second, { timeout: 30000 });
  assert.equal(await page.inputValue("#target-select"), String(second));
  assert.match(await page.evaluate(() => location.hash), new RegExp(`target=${second}`));
  // Heatmap only: the image hidden, the heatmap opaque.
  await page.check("#heat-only");
  assert.equal(await opacity(), "1");
  assert.equal(await page.$eval("#image-input", (i) => getComputedStyle(i).visibility), "hidden");
  assert.ok(await page.isVisible(".colorbar .bar-jet"));
  await shot(page, "served-image-heatmap.png", false);
  await page.uncheck("#heat-only");
  // Score-CAM: a cost note and a channel cap that reaches the API.
  const methods = await page.$$eval("#method-select option", (o) => o.map((x) => x.value));
  assert.ok(methods.includes("scorecam"), "methods: " + methods);
  assert.ok(await page.isHidden("#cost-note"));
  await page.selectOption("#method-select", "scorecam");
  assert.ok(await page.isVisible("#cost-note"));
  assert.match(await page.textContent("#cost-note"), /one extra forward pass per channel/);
  assert.ok(await page.isVisible("#mc-input"));
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.fill("#mc-input", "4");
  await page.dispatchEvent("#mc-input", "change");
  await page.waitForFunction(() => /mc=4/.test(location.hash));
  await camReady();
  await page.waitForFunction(() => !document.getElementById("cam-img").dataset.loading, null, { timeout: 60000 });
  assert.ok(requests.some((u) => /method=scorecam/.test(u) && /max_channels=4/.test(u)), "the cap reaches api/cam");
  // The dual view: images under the maps, the difference with its colour bar.
  assert.ok(await page.isVisible("#dual-view"));
  await page.waitForFunction(() => [...document.querySelectorAll("#dual-view img")].filter((i) => !i.closest("[hidden]"))
                                     .every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 60000 });
  assert.equal(await page.$$eval("#dual-view img.under", (i) => i.filter((x) => x.naturalWidth > 0).length) >= 3, true);
  assert.ok(await page.isVisible(".colorbar .bar-div"));
  await shot(page, "served-image-tools.png");
}

/** Tags from the grid and the image view; export of the selection and of the tagged images. */
async function tagAndExport(page, base, D, mode) {
  const params = { ok: "wrong", sort: "conf", dir: "desc" };
  const want = referenceList(D, params);
  await page.goto(base + "#grid?" + new URLSearchParams(params));
  await viewIs(page, "grid");
  await page.check(`#grid .tile[data-row='${want[0]}'] .check`);
  await page.check(`#grid .tile[data-row='${want[1]}'] .check`);
  await page.click("#view-grid .tagbar button[data-tag='relabel']");
  await page.waitForSelector(`#grid .tile[data-row='${want[1]}'] .chip`);
  await page.goto(base + "#image/" + want[2] + "?" + new URLSearchParams(params));
  await viewIs(page, "image");
  await page.click("#image-tags button[data-tag='ambiguous']");
  await page.waitForFunction(() => document.querySelector("#image-tags button[data-tag='ambiguous']").getAttribute("aria-pressed") === "true");
  await page.fill("#image-tag-text", "blurry-photo 2");
  await page.click("#image-tag-add");
  await page.waitForFunction(() => /blurry-photo 2/.test(document.getElementById("image-tag-list").textContent));
  // An invalid tag is refused with a message.
  await page.fill("#image-tag-text", "<b>x</b>");
  await page.click("#image-tag-add");
  assert.match(await page.textContent("#tags-mode"), /1–40 characters/);
  // The right label chosen (for `camscope rescore`): "relabel" and "relabel:<k>", shown with the
  // class's name; relabel toggled off takes the chosen label with it.
  const k = (D.rows.label[want[2]] + 1) % D.classes.length;
  await page.selectOption("#image-relabel-to", String(k));
  await page.waitForFunction((t) => document.getElementById("image-tag-list").textContent.includes(t), "relabel → " + D.classes[k]);
  assert.equal(await page.getAttribute("#image-tags button[data-tag='relabel']", "aria-pressed"), "true");
  await page.click("#image-tags button[data-tag='relabel']");
  await page.waitForFunction(() => !/relabel/.test(document.getElementById("image-tag-list").textContent));
  assert.equal(await page.inputValue("#image-relabel-to"), "");
  const tags = { [want[0]]: ["relabel"], [want[1]]: ["relabel"], [want[2]]: ["ambiguous", "blurry-photo 2"] };
  // The tagged filter and the export.
  await checkList(page, base, D, { tagged: "1" }, tags, mode + " tagged");
  await page.goto(base + "#grid?" + new URLSearchParams({ ...params, cmax: "0.9" }));
  await viewIs(page, "grid");
  const sel = referenceList(D, { ...params, cmax: "0.9" });
  const dl = async (id) => {
    const [d] = await Promise.all([page.waitForEvent("download"), page.click(id)]);
    const f = await d.path();
    fs.copyFileSync(f, path.join(ART, `${mode}-export-${d.suggestedFilename()}`));
    return fs.readFileSync(f, "utf8");
  };
  const csv = parseCsv(await dl("#exp-sel-csv"));
  assert.deepEqual(csv[0], ["row", "index", "label", "label_name", "prediction", "prediction_name", "confidence", "tags"]);
  assert.equal(csv.length - 1, sel.length, "one CSV line per selected image");
  csv.slice(1).forEach((c, i) => {
    const r = sel[i];
    assert.deepEqual(c, [String(r), String(D.rows.index[r]), String(D.rows.label[r]), D.classes[D.rows.label[r]],
                         String(D.rows.pred[r]), D.classes[D.rows.pred[r]], String(D.rows.conf[r]), (tags[r] || []).join(";")]);
  });
  const js = JSON.parse(await dl("#exp-tag-json"));
  const taggedRows = Object.keys(tags).map(Number).sort((a, b) => a - b);
  assert.deepEqual(js.images.map((x) => x.row), taggedRows);
  for (const x of js.images) {
    assert.deepEqual(x.tags, tags[x.row]);
    assert.equal(x.index, D.rows.index[x.row]);
    assert.equal(x.label, D.rows.label[x.row]);
    assert.equal(x.prediction, D.rows.pred[x.row]);
    assert.equal(x.confidence, D.rows.conf[x.row]);
  }
  return tags;
}

async function layout(page, base, mode) {
  await page.goto(base + "#overview");
  await viewIs(page, "overview");
  // 1440×900: the matrix, the pairs, the calibration chart and the weakest classes start on the first screen.
  for (const sel of ["#confusion", "#pairs", "#reliability", "#weakest"]) {
    const b = await page.$eval(sel, (e) => { const r = e.getBoundingClientRect(); return { top: r.top, left: r.left, right: r.right }; });
    assert.ok(b.top < 900 && b.left >= 0 && b.right <= 1440, `${sel} starts within the first 1440×900 screen: ${JSON.stringify(b)}`);
  }
  await shot(page, `${mode}-overview-1440.png`, false);
  await page.setViewportSize({ width: 800, height: 900 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 800, "no horizontal scrolling at 800 px: " + overflow);
  await shot(page, `${mode}-overview-800.png`);
  await page.goto(base + "#grid?ok=wrong");
  await viewIs(page, "grid");
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 800);
  await shot(page, `${mode}-grid-800.png`, false);
  await page.setViewportSize({ width: 1440, height: 900 });
  // The controls have labels (an accessible name).
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll("input, select, button")].filter((e) => {
    if (e.closest("[hidden]")) return false;
    const id = e.id && document.querySelector(`label[for='${e.id}']`);
    return !(e.closest("label") || id || e.getAttribute("aria-label") || (e.tagName === "BUTTON" && e.textContent.trim()));
  }).map((e) => e.id || e.outerHTML.slice(0, 60)));
  assert.deepEqual(unlabelled, [], "every control has a label");
}

async function listsAndCalibration(page, base, D, mode) {
  await page.goto(base + "#lists");
  await viewIs(page, "lists");
  const txt = await page.textContent("#lists");
  assert.match(txt, /Faithfulness ranking/);
  assert.match(txt, /Degenerate CAMs/);
  if (D.lists) {
    for (const [k, key] of [["label", "label_issues"], ["hce", "high_conf_errors"], ["lcc", "low_conf_correct"]])
      assert.match(await page.textContent(`#list-${k} h3`), new RegExp(`: ${D.lists[key].length} `));
    if (D.lists.faithfulness && D.lists.faithfulness.length)
      assert.equal(await page.$$eval("#faithfulness tr", (t) => t.length), D.lists.faithfulness.length + 1);
  }
  await shot(page, `${mode}-lists.png`);
  // Calibration: y ticks, a count per bin, bins open the grid.
  await page.goto(base + "#overview");
  await viewIs(page, "overview");
  const ticks = await page.$$eval("#reliability text", (t) => t.map((x) => x.textContent));
  for (const v of ["0.25", "0.5", "0.75"]) assert.ok(ticks.filter((x) => x === v).length >= 2, "x and y ticks " + v);
  const bins = D.calibration.bins.filter((b) => b.count > 0);
  assert.equal(await page.$$eval("#reliability g.bin", (g) => g.length), bins.length);
  const counts = await page.$$eval("#reliability g.bin text.count", (t) => t.map((x) => +x.textContent));
  assert.deepEqual(counts, bins.map((b) => b.count));
  const b = bins.reduce((a, x) => (x.count > a.count ? x : a));
  await page.click(`#reliability g.bin[data-lower='${b.lower}'] rect`);
  await viewIs(page, "grid");
  const { q } = await hashParams(page);
  assert.equal(+q.cmin, b.lower);
  assert.equal(+q.cmax, b.upper);
  const want = referenceList(D, { cmin: q.cmin, cmax: q.cmax, sort: "conf", dir: "desc" });
  assert.equal(+(await page.getAttribute("#grid", "data-total")), want.length);
  if (want.length !== b.count) console.log(`note: bin ${b.lower}-${b.upper} holds ${b.count}, the rounded confidences give ${want.length}`);
}

async function classAndSearch(page, base, D) {
  await page.goto(base + "#class/3");
  await viewIs(page, "class");
  assert.equal(await page.inputValue("#class-select"), "3");
  const worst = referenceList(D, { t: 3, ok: "wrong", sort: "conf", dir: "desc" });
  const shown = await page.$$eval("#gallery-worst .tile", (t) => t.map((x) => +x.dataset.row));
  assert.deepEqual(shown, worst.slice(0, shown.length));
  await page.click("#class-links a:nth-of-type(2)");
  await viewIs(page, "grid");
  assert.equal(+(await page.getAttribute("#grid", "data-total")), worst.length, "the class's errors, all of them");
  assert.equal(await page.inputValue("#class-select"), "3", "the dropdown follows a class-filtered grid");
  await page.goto(base + "#overview");
  await viewIs(page, "overview");
  assert.equal(await page.inputValue("#class-select"), "", "the dropdown is cleared on the overview");
  await page.fill("#class-search", "zzzz-no-such-class");
  await page.press("#class-search", "Enter");
  await page.waitForSelector("#search-msg:not([hidden])");
  assert.match(await page.textContent("#search-msg"), /no class matches/);
  await page.goto(base + "#class/3");
  await viewIs(page, "class");
  await shot(page, "served-class.png");
}

// ---------------------------------------------------------------------------- served
const tagsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "camscope-tags-")), "tags.json");
let server = await startServer(["--http-threads", "4", "--tags", tagsFile]).catch((e) => {
  console.log("FAIL start server: " + e.message);
  process.exit(1);
});
await measure("served tiny (200 images)", server.url, "live");
let tagsServed = null;
try {
  const page = await newPage();
  await page.goto(server.url);
  await ready(page, "live");
  const D = await page.evaluate(async () => (await fetch("api/explorer")).json());
  await step("served: filters and sort equal the reference lists", page, () => filtersAndSort(page, server.url, D, "served"));
  await step("served: the largest confusion cell pages to its last image", page, () => largestCell(page, server.url, D, "served"));
  await step("served: keyboard in the grid, the image view and the matrix", page, () => keyboard(page, server.url, D, "served"));
  await step("served: the URL reproduces the view after reload and in a fresh context", page,
             () => urlRoundTrip(page, server.url, D, "served", true));
  await step("served: image view tools (opacity, heatmap, top-k targets, Score-CAM cap, dual view)", page,
             () => imageTools(page, server.url, D));
  await step("served: class view, dropdown and search feedback", page, () => classAndSearch(page, server.url, D));
  await step("served: lists and calibration bins", page, () => listsAndCalibration(page, server.url, D, "served"));
  await step("served: layout at 1440×900 and 800 px, labelled controls", page, () => layout(page, server.url, "served"));
  await step("served: tags and export", page, async () => { tagsServed = await tagAndExport(page, server.url, D, "served"); });
  await page.close();
  await step("served: tags survive a server restart", null, async () => {
    assert.ok(tagsServed, "tags were set");
    await stopServer(server);
    server = await startServer(["--http-threads", "4", "--tags", tagsFile]);
    const p = await newPage();
    await p.goto(server.url + "#grid?tagged=1");
    await ready(p, "live");
    await viewIs(p, "grid");
    const rows = Object.keys(tagsServed).map(Number).sort((a, b) => a - b);
    assert.deepEqual(await gridRows(p), rows);
    for (const r of rows)
      assert.deepEqual(await p.$$eval(`#grid .tile[data-row='${r}'] .chip`, (c) => c.map((x) => x.textContent)), tagsServed[r]);
    const saved = fs.readFileSync(tagsFile, "utf8");
    for (const t of ["relabel", "ambiguous", "blurry-photo 2"]) assert.ok(saved.includes(t), "the tags file holds " + t);
    await p.close();
  });
} finally {
  await stopServer(server);
}

// ---------------------------------------------------------------------------- offline copy
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), "camscope-browser-grid-"));
execFileSync(BIN, ["-q", "analyze", "--faithfulness-n", "0", "-m", MODEL, "-d", DATA, "-o", reportDir], { stdio: "ignore" });
{
  const url = pathToFileURL(path.join(reportDir, "explorer", "index.html")).href;
  await measure("offline tiny (200 images)", url, "offline");
  const page = await newPage();
  await page.goto(url);
  await ready(page, "offline");
  const D = await page.evaluate(() => window.CAMSCOPE_DATA);
  await step("offline: filters and sort equal the reference lists", page, () => filtersAndSort(page, url, D, "offline"));
  await step("offline: the largest confusion cell pages to its last image", page, () => largestCell(page, url, D, "offline"));
  await step("offline: keyboard", page, () => keyboard(page, url, D, "offline"));
  await step("offline: the URL reproduces the view", page, () => urlRoundTrip(page, url, D, "offline", false));
  await step("offline: lists and calibration bins", page, () => listsAndCalibration(page, url, D, "offline"));
  await step("offline: layout", page, () => layout(page, url, "offline"));
  await step("offline: the flip test's image line and the sanity gate's notes", page, () => flipAndSanity(page, url, D));
  let tags = null;
  await step("offline: tags and export", page, async () => { tags = await tagAndExport(page, url, D, "offline"); });
  await step("offline: tags survive a reload (localStorage)", page, async () => {
    assert.ok(tags);
    await page.goto(url + "#grid?tagged=1");
    await page.reload();
    await ready(page, "offline");
    await viewIs(page, "grid");
    assert.deepEqual(await gridRows(page), Object.keys(tags).map(Number).sort((a, b) => a - b));
    const key = await page.evaluate(() => Object.keys(localStorage).find((k) => k.startsWith("camscope-tags:")));
    if (D.tags_key) assert.equal(key, "camscope-tags:" + D.tags_key);
  });
  await page.close();
}
fs.rmSync(reportDir, { recursive: true, force: true });

// A sanity gate that fails (threshold -1: every map "survives"), no flip test: the warning and the
// CAM note show, the flip filter and line do not.
const failedDir = fs.mkdtempSync(path.join(os.tmpdir(), "camscope-browser-sanity-"));
execFileSync(BIN, ["-q", "analyze", "--faithfulness-n", "0", "--flip-n", "0", "--sanity-threshold", "-1", "-m", MODEL, "-d", DATA,
                   "-o", failedDir], { stdio: "ignore" });
{
  const url = pathToFileURL(path.join(failedDir, "explorer", "index.html")).href;
  const page = await newPage();
  await page.goto(url);
  await ready(page, "offline");
  const D = await page.evaluate(() => window.CAMSCOPE_DATA);
  await step("offline, failed sanity gate: its warning and CAM note, no flip test", page, async () => {
    assert.equal(D.sanity.passed, false);
    assert.ok(!D.flips);
    await flipAndSanity(page, url, D);
  });
  await page.close();
}
fs.rmSync(failedDir, { recursive: true, force: true });

// ---------------------------------------------------------------------------- a large results folder
if (process.env.CAMSCOPE_LARGE_RESULTS) {
  // e.g. scripts/make_synthetic_cifar100.py 50000 DIR; camscope analyze -m tiny_cifar100_model.pt -d DIR -o DIR/report
  const E = process.env;
  await step("large: first render", null, async () => {
    const s = await startServer(["--results", E.CAMSCOPE_LARGE_RESULTS],
                                ["-m", E.CAMSCOPE_LARGE_MODEL || MODEL, "-d", E.CAMSCOPE_LARGE_DATA || DATA]);
    try {
      for (let i = 0; i < 2; ++i) await measure(`served ${E.CAMSCOPE_LARGE_RESULTS} (load ${i + 1})`, s.url, "live");
      const p = await newPage();
      await p.goto(s.url + "#grid?ok=wrong&sort=conf&dir=desc");
      await ready(p, "live");
      await viewIs(p, "grid");
      await shot(p, "large-grid.png", false);
      await p.goto(s.url + "#overview");
      await viewIs(p, "overview");
      await shot(p, "large-overview.png", false);
      await p.close();
    } finally { await stopServer(s); }
    const off = path.join(E.CAMSCOPE_LARGE_RESULTS, "explorer", "index.html");
    if (fs.existsSync(off)) await measure(`offline ${off}`, pathToFileURL(off).href, "offline");
  });
}

await browser.close();
if (pageErrors.length) {
  state.failures++;
  console.log("FAIL page errors:\n  " + pageErrors.join("\n  "));
}
console.log(state.failures ? `${state.failures} failure(s); screenshots in ${ART}` : `all grid checks passed; screenshots in ${ART}`);
process.exit(state.failures ? 1 : 0);

// End-to-end test of the camscope explorer in a real browser: Debian's chromium, headless, driven
// by playwright-core (no browser download). Served mode (`camscope serve` on the tiny CIFAR-10
// fixture) and the offline copy written by `camscope analyze` (opened from file://).
// A screenshot of each view goes to $CAMSCOPE_ARTIFACTS (the build dir's test-artifacts/).
//
// Environment: CAMSCOPE_BINARY, CAMSCOPE_FIXTURES_DIR, CAMSCOPE_ARTIFACTS, CHROMIUM (default
// /usr/bin/chromium). Run: node tests/browser/explorer.test.mjs (after npm ci --prefix tests/browser).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { MODEL, DATA, BIN, ART, CHROMIUM, loadChromium, state, step, shot, startServer } from "./lib.mjs";

const chromium = await loadChromium();

/** Every <img> under `selector` has loaded a real image, and every thumbnail sprite sheet it uses
 *  loads as an image. Returns how many pictures. */
async function imagesLoaded(page, selector) {
  const sheets = await page.$$eval(selector + " .sprite", (s) => [...new Set(s.map((x) => x.dataset.sheet))]);
  for (const url of sheets) {
    const ok = await page.evaluate((u) => new Promise((res) => {
      const i = new Image();
      i.onload = () => res(i.naturalWidth > 0);
      i.onerror = () => res(false);
      i.src = u;
    }), url);
    assert.ok(ok, "the sprite sheet " + url + " loads");
  }
  if (sheets.length && !(await page.$$eval(selector + " img", (i) => i.length))) return page.$$eval(selector + " .sprite", (s) => s.length);
  await page.waitForFunction((sel) => {
    const imgs = [...document.querySelectorAll(sel + " img")].filter((i) => i.closest("[hidden]") === null);
    return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, selector, { timeout: 30000 });
  return page.$$eval(selector + " img", (imgs) => imgs.filter((i) => i.closest("[hidden]") === null).length);
}

/** Hover an off-diagonal confusion cell with images, check the tooltip, click it, check the images. */
async function confusionCell(page, offline) {
  const cells = await page.$$eval("td.cell", (tds) =>
    tds.map((td) => ({ t: +td.dataset.t, p: +td.dataset.p, n: +td.dataset.count })).filter((c) => c.n > 0 && c.t !== c.p));
  assert.ok(cells.length > 0, "the tiny model makes errors");
  const c = cells.sort((a, b) => b.n - a.n)[0];
  const td = page.locator(`td.cell[data-t='${c.t}'][data-p='${c.p}']`);
  await td.hover();
  const tip = page.locator("#tooltip");
  await tip.waitFor({ state: "visible" });
  const tipText = await tip.textContent();
  assert.match(tipText, new RegExp(`${c.n} images`), "tooltip shows the count: " + tipText);
  assert.match(tipText, /% of the class/, "tooltip shows the rate: " + tipText);
  assert.match(await page.textContent("#cell-info"), new RegExp(`: ${c.n} image`));
  await shot(page, `${offline ? "offline" : "served"}-confusion-hover.png`);
  await td.click();
  // The cell opens the grid filtered to it (every image, paged by 60; grid.test.mjs pages further).
  await page.waitForFunction(() => document.body.dataset.view === "grid");
  assert.match(await page.textContent("#grid-title"), new RegExp(`${c.n} image`));
  const thumbs = await page.$$eval("#grid .tile", (t) => t.length);
  assert.equal(thumbs, Math.min(c.n, 60), "every image of the cell is listed");
  await imagesLoaded(page, "#grid");
  await shot(page, `${offline ? "offline" : "served"}-cell.png`);
  return c;
}

async function classView(page, offline) {
  await page.selectOption("#class-select", "3");
  await page.waitForFunction(() => document.body.dataset.view === "class");
  assert.match(await page.textContent("#class-title"), /^Class 3: /);
  const n = (await imagesLoaded(page, "#gallery-worst")) + (await imagesLoaded(page, "#gallery-best"));
  assert.ok(n >= 2, "the galleries show images with CAMs");
  // The search box finds a class by (part of) its name.
  const name = await page.$eval("#class-select option[value='5']", (o) => o.textContent.replace(/^5: /, ""));
  await page.fill("#class-search", name.slice(0, Math.max(3, name.length - 1)));
  await page.press("#class-search", "Enter");
  await page.waitForFunction(() => location.hash === "#class/5");
  await page.selectOption("#class-select", "3");
  await page.waitForFunction(() => location.hash === "#class/3");
  await shot(page, `${offline ? "offline" : "served"}-class.png`);
}

/** Opens a misclassified image from the class view's worst gallery. Returns its row. */
async function openError(page) {
  // A class with errors: the gallery of the first class that has one.
  for (let c = 0; c < 10; ++c) {
    await page.selectOption("#class-select", String(c));
    await page.waitForFunction((c) => location.hash === "#class/" + c, c);
    const n = await page.$$eval("#gallery-worst .tile", (t) => t.length);
    if (n) {
      await page.click("#gallery-worst .tile");
      await page.waitForFunction(() => document.body.dataset.view === "image");
      return +(await page.evaluate(() => location.hash.match(/^#image\/(\d+)/)[1]));
    }
  }
  throw new Error("no misclassified image in any gallery");
}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
const pageErrors = [];
async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
  return page;
}

// ---------------------------------------------------------------------------- served
const server = await startServer(["--threads", "2"], undefined, 60000).catch((e) => { console.log("FAIL start server: " + e.message); process.exit(1); });
try {
  const page = await newPage();
  await step("served: overview", page, async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset.ready === "live", null, { timeout: 30000 });
    assert.match(await page.textContent("#kpis"), /top-1 accuracy/);
    assert.ok(await page.isHidden("#mode-notice"), "no offline notice when served");
    assert.equal(await page.$$eval("#confusion td.cell", (t) => t.length), 100);
    assert.ok(await page.$$eval("#pairs tr", (t) => t.length) > 1);
    // Every share with its 95 % interval (issue 25): "30.0% (10.8–60.3%)"; the weakest classes by
    // the interval's upper bound, ascending.
    const withCi = /^\d+\.\d% \(\d+\.\d\u2013\d+\.\d%\)$/;
    assert.match(await page.textContent("#pairs tr:nth-child(2) td:nth-child(4)"), withCi);
    const weakest = await page.$$eval("#weakest tr td:nth-child(2)", (t) => t.map((x) => x.textContent));
    assert.ok(weakest.length > 1 && weakest.every((t) => withCi.test(t)), weakest.join(" | "));
    const his = weakest.map((t) => parseFloat(t.split("\u2013")[1]));
    assert.deepEqual(his, [...his].sort((a, b) => a - b), "weakest classes by the interval's upper bound");
    assert.match(await page.textContent("#kpis"), /top-1 accuracy/);
    assert.ok(await page.isVisible("#reliability"));
    await shot(page, "served-overview.png");
  });
  await step("served: confusion cell hover and click", page, async () => {
    await page.goto(server.url + "#overview");
    await confusionCell(page, false);
  });
  await step("served: class dropdown and galleries", page, () => classView(page, false));
  await step("served: image view, live CAM for another class, dual view", page, async () => {
    const row = await openError(page);
    await imagesLoaded(page, "#view-image .stage-wrap");
    const camReady = () => page.waitForFunction(() => {
      const i = document.getElementById("cam-img");
      return !i.dataset.loading && i.dataset.fingerprint && i.complete && i.naturalWidth > 0;
    }, null, { timeout: 30000 });
    await camReady();
    const before = await page.$eval("#cam-img", (i) => ({ fp: i.dataset.fingerprint, target: i.dataset.target }));
    const top = await page.$$eval("#image-top td:first-child", (t) => t.map((x) => x.textContent));
    assert.equal(top.length, 5, "top-5 probabilities");
    assert.match(await page.textContent("#image-labels"), /misclassified/);
    // Another target class: the map is recomputed by the server and changes.
    const other = (Number(before.target) + 1) % 10;
    await page.selectOption("#target-select", String(other));
    await page.waitForFunction((fp) => document.getElementById("cam-img").dataset.fingerprint !== fp, before.fp,
                               { timeout: 30000 });
    await camReady();
    const after = await page.$eval("#cam-img", (i) => ({ fp: i.dataset.fingerprint, target: i.dataset.target }));
    assert.equal(after.target, String(other));
    assert.notEqual(after.fp, before.fp, "the CAM changed with the target class");
    // The pixels differ too (both maps fetched from the API the page uses).
    const differ = await page.evaluate(async ([row, a, b]) => {
      const get = async (t) => new Uint8Array(await (await fetch(`api/cam?image=${row}&target=${t}`)).arrayBuffer());
      const x = await get(a), y = await get(b);
      return x.length !== y.length || x.some((v, i) => v !== y[i]);
    }, [row, before.target, String(other)]);
    assert.ok(differ, "the overlay PNGs differ");
    assert.match(await page.textContent("#cam-stats"), /answered in \d+ ms/);
    // Method and layer are live too.
    const methods = await page.$$eval("#method-select option", (o) => o.map((x) => x.value));
    assert.ok(methods.includes("gradcam") && methods.length >= 2, "methods: " + methods);
    await page.selectOption("#method-select", methods.find((m) => m !== "gradcam"));
    await page.waitForFunction((fp) => document.getElementById("cam-img").dataset.fingerprint !== fp, after.fp,
                               { timeout: 60000 });
    await camReady();
    assert.ok(await page.isVisible("#dual-view"), "dual view for a misclassification");
    await imagesLoaded(page, "#dual-view");
    // The contrastive view (Finer-CAM, predicted over true), live from the server, behind a toggle.
    assert.ok(await page.isVisible("#dual-finer"), "the contrastive Finer-CAM view");
    assert.match(await page.textContent("#dual-finer-caption"), /Finer-CAM: why/);
    await page.click("#finer-toggle");
    assert.ok(!(await page.isVisible("#dual-finer")), "the toggle hides the contrastive view");
    await page.click("#finer-toggle");
    await imagesLoaded(page, "#dual-view");
    await shot(page, "served-image.png");
  });
  await step("served: a map without positive evidence says so instead of showing a flat overlay", page, async () => {
    // An (image, class) whose live map is blank, found through the API the page uses; the tiny
    // model has them for classes it does not predict.
    const found = await page.evaluate(async () => {
      for (let row = 0; row < 40; ++row) {
        let blank = -1, shown = -1, max = -1;
        for (let t = 0; t < 10; ++t) {
          const j = await (await fetch(`api/cam?image=${row}&target=${t}&format=json`)).json();
          if (j.degenerate && blank < 0) { blank = t; max = Math.max(...j.map); }
          if (!j.degenerate && shown < 0) shown = t;
        }
        if (blank >= 0 && shown >= 0) return { row, blank, shown, max };
      }
      return null;
    });
    assert.ok(found, "the tiny model has a blank map among the first 40 images");
    assert.equal(found.max, 0, "a degenerate map is all zero");
    await page.goto(server.url + "#image/" + found.row);
    await page.waitForFunction(() => document.body.dataset.view === "image");
    await page.selectOption("#target-select", String(found.blank));
    await page.waitForFunction(() => !document.getElementById("cam-blank").hidden, null, { timeout: 30000 });
    assert.match(await page.textContent("#cam-blank"), /^no positive evidence for .+ at layer3$/);
    assert.match(await page.textContent("#cam-stats"), /all zero after ReLU/);
    assert.doesNotMatch(await page.textContent("#cam-stats"), /peak at/);
    await imagesLoaded(page, "#view-image .stage-wrap");
    await shot(page, "served-blank-cam.png");
    await page.selectOption("#target-select", String(found.shown));
    await page.waitForFunction(() => document.getElementById("cam-blank").hidden, null, { timeout: 30000 });
    await page.waitForFunction(() => /peak at/.test(document.getElementById("cam-stats").textContent), null,
                               { timeout: 30000 });
  });
  await page.close();
} finally {
  server.proc.kill("SIGTERM");
}

// ---------------------------------------------------------------------------- offline copy
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), "camscope-browser-report-"));
// --faithfulness-n 0: the faithfulness check is not what this test is about, and costs ~50 s here.
execFileSync(BIN, ["-q", "analyze", "--faithfulness-n", "0", "-m", MODEL, "-d", DATA, "-o", reportDir], { stdio: "ignore" });
// A second offline copy at layer2, where the tiny model has blank maps (5 of 200 predicted-class
// maps; none at layer3), for the blank-map step.
const blankDir = fs.mkdtempSync(path.join(os.tmpdir(), "camscope-browser-blank-"));
execFileSync(BIN, ["-q", "analyze", "--faithfulness-n", "0", "--layer", "layer2", "-m", MODEL, "-d", DATA, "-o", blankDir],
             { stdio: "ignore" });
{
  const page = await newPage();
  const url = pathToFileURL(path.join(reportDir, "explorer", "index.html")).href;
  await step("offline: overview from file://", page, async () => {
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.ready === "offline", null, { timeout: 30000 });
    assert.match(await page.textContent("#mode-notice"), /camscope serve/, "the page says live CAMs need the server");
    assert.equal(await page.$$eval("#confusion td.cell", (t) => t.length), 100);
    await shot(page, "offline-overview.png");
  });
  await step("offline: confusion cell hover and click", page, async () => {
    await page.goto(url + "#overview");
    await confusionCell(page, true);
  });
  await step("offline: class dropdown and galleries", page, () => classView(page, true));
  await step("offline: image view with precomputed CAMs", page, async () => {
    await openError(page);
    await imagesLoaded(page, "#view-image .stage-wrap");
    assert.ok(await page.isVisible("#live-notice"), "the image view says live CAMs need the server");
    assert.ok(await page.isDisabled("#method-select"));
    assert.ok(await page.isDisabled("#layer-select"));
    assert.ok(await page.isVisible("#dual-view"));
    await imagesLoaded(page, "#dual-view");
    // Offline the target can switch between the two precomputed maps only.
    const enabled = await page.$$eval("#target-select option:not([disabled])", (o) => o.map((x) => x.value));
    assert.deepEqual(enabled.sort(), ["pred", "true"]);
    const src = await page.getAttribute("#cam-img", "src");
    await page.selectOption("#target-select", "true");
    await page.waitForFunction((s) => document.getElementById("cam-img").getAttribute("src") !== s, src);
    await imagesLoaded(page, "#view-image .stage-wrap");
    await shot(page, "offline-image.png");
  });
  await step("offline: a precomputed blank map says so", page, async () => {
    const url = pathToFileURL(path.join(blankDir, "explorer", "index.html")).href;
    await page.goto(url + "#overview");
    await page.waitForFunction(() => document.body.dataset.ready === "offline", null, { timeout: 30000 });
    const { row, bits } = await page.evaluate(() => {
      const D = window.CAMSCOPE_DATA;
      for (let r = 0; r < D.rows.blank.length; ++r) if (D.rows.blank[r] && D.images[r]) return { row: r, bits: D.rows.blank[r] };
      return { row: -1, bits: 0 };
    });
    assert.ok(row >= 0, "the offline copy at layer2 has an image with a blank predicted- or true-class map");
    await page.goto(url + "#image/" + row);
    await page.waitForFunction(() => document.body.dataset.view === "image");
    if (!(bits & 1)) await page.selectOption("#target-select", "true");
    await page.waitForFunction(() => !document.getElementById("cam-blank").hidden, null, { timeout: 30000 });
    assert.match(await page.textContent("#cam-blank"), /^no positive evidence for .+ at layer2$/);
    const caption = bits & 2 ? "#dual-true-caption" : "#dual-pred-caption";
    if (await page.isVisible("#dual-view")) assert.match(await page.textContent(caption), /no positive evidence for/);
    await imagesLoaded(page, "#view-image .stage-wrap");
    await shot(page, "offline-blank-cam.png");
  });
  await page.close();
}
await browser.close();
fs.rmSync(reportDir, { recursive: true, force: true });
fs.rmSync(blankDir, { recursive: true, force: true });

if (pageErrors.length) {
  state.failures++;
  console.log("FAIL page errors:\n  " + pageErrors.join("\n  "));
}
console.log(state.failures ? `${state.failures} failure(s); screenshots in ${ART}` : `all browser checks passed; screenshots in ${ART}`);
process.exit(state.failures ? 1 : 0);

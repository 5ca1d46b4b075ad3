// The comparison's explorer (`camscope compare` → <diff>/explorer/index.html) in Debian's headless
// chromium through playwright-core, opened from file:// as a user opens it: the filters show
// exactly the images compare.json counts, the A/B toggle switches every card's overlay and
// prediction, a click shows A and B side by side. Screenshots go to $CAMSCOPE_ARTIFACTS.
//
// Environment: CAMSCOPE_BINARY, CAMSCOPE_FIXTURES_DIR, CAMSCOPE_ARTIFACTS, CHROMIUM (default
// /usr/bin/chromium). Run: node tests/browser/compare.test.mjs (after npm ci --prefix tests/browser).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { MODEL, DATA, BIN, ART, CHROMIUM, loadChromium, state, step } from "./lib.mjs";

const chromium = await loadChromium();

// Two analyses of the same images (B: the model fed ImageNet's normalisation, which fixes some of
// A's errors and breaks some of its right answers) and their comparison.
const root = fs.mkdtempSync(path.join(os.tmpdir(), "camscope-compare-browser-"));
const common = ["-q", "analyze", "-m", MODEL, "-d", DATA, "-b", "16", "--faithfulness-n", "0"];
execFileSync(BIN, [...common, "-o", path.join(root, "a")], { stdio: "inherit" });
execFileSync(BIN, [...common, "--norm", "imagenet", "-o", path.join(root, "b")], { stdio: "inherit" });
const diff = path.join(root, "diff");
execFileSync(BIN, ["-q", "compare", path.join(root, "a"), path.join(root, "b"), "--out", diff], { stdio: "inherit" });
const C = JSON.parse(fs.readFileSync(path.join(diff, "compare.json"), "utf8"));
const classes = JSON.parse(fs.readFileSync(path.join(root, "a", "summary.json"), "utf8")).classes;

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
const pageErrors = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on("pageerror", (e) => pageErrors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });

const cards = () => page.$$eval("#grid .card", (cs) => cs.map((c) => ({
  index: +c.dataset.index, status: c.dataset.status,
  src: c.querySelector("img") ? c.querySelector("img").getAttribute("src") : null,
  pred: c.querySelector(".pred").textContent })));
const choose = async (filter, cls = "") => {
  await page.selectOption("#filter", filter);
  await page.selectOption("#class-filter", cls);
};

await step("fixed filter lists exactly the fixed images", page, async () => {
  await page.goto(pathToFileURL(path.join(diff, "explorer", "index.html")).href);
  await page.waitForSelector("#grid .card");
  assert.equal(await page.inputValue("#filter"), "fixed", "the page opens on what B fixed");
  const got = await cards();
  assert.ok(C.paired.fixed > 0, "the fixture pair has fixed images");
  assert.equal(got.length, C.paired.fixed);
  assert.ok(got.every((c) => c.status === "fixed"));
  assert.deepEqual(got.map((c) => c.index).sort((x, y) => x - y), [...C.fixed_images].sort((x, y) => x - y));
  assert.match(await page.textContent("#shown"), new RegExp(`^${C.paired.fixed} images`));
});

await step("A/B toggle switches overlay and prediction", page, async () => {
  const g = C.galleries.fixed.images[0];  // a fixed image with pictures
  const card = `#grid .card[data-index='${g.index}']`;
  const read = () => page.$eval(card, (c) => ({ src: c.querySelector("img").getAttribute("src"),
                                               ok: c.querySelector("img").complete && c.querySelector("img").naturalWidth > 0,
                                               pred: c.querySelector(".pred").textContent,
                                               cls: c.querySelector(".pred").className }));
  await page.waitForFunction((sel) => { const i = document.querySelector(sel + " img"); return i && i.complete && i.naturalWidth > 0; }, card);
  const a = await read();
  assert.equal(a.src, `img/${g.index}_a.png`);
  assert.equal(a.pred, `A: ${classes[g.pred_a]} (${g.conf_a.toFixed(2)})`);
  assert.match(a.cls, /wrong/, "A got a fixed image wrong");
  await page.click("#show-b");
  assert.equal(await page.getAttribute("#show-b", "aria-pressed"), "true");
  await page.waitForFunction((sel) => { const i = document.querySelector(sel + " img"); return i && i.complete && i.naturalWidth > 0; }, card);
  const b = await read();
  assert.equal(b.src, `img/${g.index}_b.png`);
  assert.equal(b.pred, `B: ${classes[g.pred_b]} (${g.conf_b.toFixed(2)})`);
  assert.match(b.cls, /right/, "B got it right");
  // Every card now shows B's prediction.
  assert.ok((await cards()).every((c) => c.pred.startsWith("B: ") && (c.src === null || c.src.endsWith("_b.png"))));
  await page.screenshot({ path: path.join(ART, "compare-fixed-b.png"), fullPage: true });
  await page.click("#show-a");
  assert.equal((await read()).src, `img/${g.index}_a.png`);
});

await step("broken, wrong-in-both, all and the class filter", page, async () => {
  await choose("broken");
  let got = await cards();
  assert.equal(got.length, C.paired.broken);
  assert.deepEqual(got.map((c) => c.index).sort((x, y) => x - y), [...C.broken_images].sort((x, y) => x - y));
  await choose("both-wrong");
  assert.equal((await cards()).length, C.paired.both_wrong);
  await choose("all");
  assert.equal((await cards()).length, C.dataset.images);
  const k = C.per_class.findIndex((pc) => pc.fixed > 0);
  await choose("all", String(k));
  assert.equal((await cards()).length, C.per_class[k].support);
  await choose("fixed", String(k));
  got = await cards();
  assert.equal(got.length, C.per_class[k].fixed);
  assert.ok(got.every((c) => c.status === "fixed"));
});

await step("a click shows A and B side by side", page, async () => {
  const g = C.galleries.broken.images[0] || C.galleries.fixed.images[0];
  await choose("all");
  await page.click(`#grid .card[data-index='${g.index}']`);
  await page.waitForSelector("#detail[open]");
  await page.waitForFunction(() => [...document.querySelectorAll("#detail-body img")].every((i) => i.complete && i.naturalWidth > 0));
  const srcs = await page.$$eval("#detail-body img", (is) => is.map((i) => i.getAttribute("src")));
  assert.deepEqual(srcs, [`img/${g.index}.png`, `img/${g.index}_a.png`, `img/${g.index}_b.png`]);
  const captions = await page.$$eval("#detail-body .pred", (ps) => ps.map((p) => p.textContent));
  assert.deepEqual(captions, [`A: ${classes[g.pred_a]} (${g.conf_a.toFixed(2)})`, `B: ${classes[g.pred_b]} (${g.conf_b.toFixed(2)})`]);
  await page.screenshot({ path: path.join(ART, "compare-side-by-side.png"), fullPage: true });
  await page.click("#close");
  await page.waitForSelector("#detail", { state: "hidden" });
});

await step("text from the data stays text", page, async () => {
  // A copy of the page whose data names a class with markup: shown literally, never parsed.
  const copy = path.join(root, "copy");
  fs.cpSync(path.join(diff, "explorer"), copy, { recursive: true });
  const js = fs.readFileSync(path.join(copy, "data.js"), "utf8");
  const head = "window.CAMSCOPE_COMPARE = ";
  const data = JSON.parse(js.slice(head.length, js.lastIndexOf(";")));
  const evil = "<b id=injected>airplane</b><img src=x onerror=\"document.title='pwned'\">";
  data.classes[0] = evil;
  fs.writeFileSync(path.join(copy, "data.js"), head + JSON.stringify(data) + ";\n");
  await page.goto(pathToFileURL(path.join(copy, "index.html")).href);
  await choose("all", "0");
  assert.ok((await cards()).length > 0);
  assert.equal(await page.$("#injected"), null, "no element made from the data's text");
  assert.ok((await page.textContent("#grid")).includes(evil), "the class name shown as it is");
  assert.notEqual(await page.title(), "pwned");
});

await browser.close();
fs.rmSync(root, { recursive: true, force: true });
if (pageErrors.length) {
  state.failures++;
  console.log("FAIL page errors:\n  " + pageErrors.join("\n  "));
}
console.log(state.failures ? `${state.failures} failure(s); screenshots in ${ART}` : `all compare-explorer checks passed; screenshots in ${ART}`);
process.exit(state.failures ? 1 : 0);

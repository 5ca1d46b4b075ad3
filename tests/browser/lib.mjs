// Shared by the browser tests: the environment, a step runner that screenshots failures, a
// `camscope serve` launcher, and the explorer's list semantics re-computed from the raw rows
// (independently of web/explorer/, reference.mjs) so the page's grid can be checked against them.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const BIN = process.env.CAMSCOPE_BINARY;
export const FIX = process.env.CAMSCOPE_FIXTURES_DIR;
export const ART = process.env.CAMSCOPE_ARTIFACTS || path.join(os.tmpdir(), "camscope-test-artifacts");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
if (!BIN || !FIX) {
  console.error("set CAMSCOPE_BINARY and CAMSCOPE_FIXTURES_DIR (ctest does)");
  process.exit(2);
}
export const MODEL = path.join(FIX, "tiny_cifar10_model.pt");
export const DATA = path.join(FIX, "tiny_cifar10");
fs.mkdirSync(ART, { recursive: true });

export async function loadChromium() {
  try {
    return (await import("playwright-core")).chromium;
  } catch (e) {
    console.error("playwright-core is missing: run `npm ci --prefix tests/browser` (scripts/install-deps.sh does)");
    process.exit(1);
  }
}

export const state = { failures: 0 };
export async function step(name, page, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    state.failures++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
    if (page) await page.screenshot({ path: path.join(ART, `failed-${name.replace(/\W+/g, "_")}.png`), fullPage: true }).catch(() => {});
  }
}
export const shot = (page, name, full = true) => page.screenshot({ path: path.join(ART, name), fullPage: full });

/** `camscope serve` on a free port with extra arguments; resolves to {url, proc} once it prints its
 *  URL, rejects if it has not within `timeoutMs`. */
export function startServer(extra = [], base = ["-m", MODEL, "-d", DATA], timeoutMs = 120000) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ["-q", "serve", ...base, "--port", "0", ...extra], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error("camscope serve printed no URL: " + out)), timeoutMs);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) { clearTimeout(timer); resolve({ url: m[0], proc }); }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`camscope serve exited with ${code}: ${out}`)); });
  });
}
export function stopServer(s) {
  return new Promise((resolve) => {
    if (s.proc.exitCode !== null) return resolve();
    s.proc.removeAllListeners("exit");
    s.proc.on("exit", () => resolve());
    s.proc.kill("SIGTERM");
  });
}

// The grid's contract, re-computed from the raw rows (reference.mjs: also used without a browser
// by tests/web/filters.test.mjs).
export { referenceList } from "./reference.mjs";

/** The rows the grid shows, in order, on all its pages (reads data-total and walks the pages). */
export async function gridRows(page) {
  return page.$$eval("#grid .tile", (t) => t.map((x) => +x.dataset.row));
}

/** A minimal CSV reader (quoted cells, "" escapes) for the export check. */
export function parseCsv(text) {
  const rows = [];
  let row = [], cell = "", q = false;
  for (let i = 0; i < text.length; ++i) {
    const ch = text[i];
    if (q) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; ++i; }
      else if (ch === '"') q = false;
      else cell += ch;
    } else if (ch === '"') q = true;
    else if (ch === ",") { row.push(cell); cell = ""; }
    else if (ch === "\n") { row.push(cell); rows.push(row); row = []; cell = ""; }
    else if (ch !== "\r") cell += ch;
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

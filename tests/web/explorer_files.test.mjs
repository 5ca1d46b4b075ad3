// The explorer's files as CMakeLists.txt lists them (embedded into the binary, served by
// `camscope serve`, written into <report>/explorer/) against the pages that load them:
// index.html loads every listed script, in the listed order, after data.js; compare.html loads its
// scripts the same way; no file of web/explorer/ is left out of the list. And the split's rules:
// each script loads without a DOM (it only defines its part of window.camscope; app.js starts the
// page), only source.js asks the network, no file is over 500 lines.
// Run by CTest (web.explorer_files): node explorer_files.test.mjs --explorer FILES... --compare FILES...
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";

import { WEB, load } from "./load.mjs";

const groups = { explorer: [], compare: [] };
let cur = null;
for (const a of process.argv.slice(2)) {
  if (a.startsWith("--")) cur = groups[a.slice(2)];
  else if (cur) cur.push(a);
}
if (!groups.explorer.length || !groups.compare.length) {
  console.error("usage: explorer_files.test.mjs --explorer FILES... --compare FILES... (CTest passes CMakeLists.txt's lists)");
  process.exit(2);
}
const base = (f) => path.basename(f);
const scriptsOf = (html) => [...fs.readFileSync(path.join(WEB, html), "utf8").matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1]);

test("every listed file exists and no file of web/explorer/ is left out", () => {
  for (const f of [...groups.explorer, ...groups.compare]) assert.ok(fs.existsSync(path.join(WEB, f)), f + " exists");
  const listed = new Set(groups.explorer.map(base));
  for (const f of fs.readdirSync(path.join(WEB, "explorer"))) assert.ok(listed.has(f), "web/explorer/" + f + " is embedded");
});

test("each page loads its listed scripts in the listed order, after data.js", () => {
  const js = (list) => list.filter((f) => f.endsWith(".js")).map(base);
  assert.deepEqual(scriptsOf("explorer/index.html"), ["data.js", ...js(groups.explorer)]);
  assert.deepEqual(scriptsOf("compare.html"), ["data.js", ...js(groups.compare)]);
});

test("the scripts only define their parts of window.camscope; the network is source.js's", () => {
  const scripts = groups.explorer.filter((f) => f.endsWith(".js")).map(base);
  const cs = load(...scripts.filter((f) => f !== "app.js"));
  for (const part of ["dom", "url", "filters", "source", "tags", "exporter", "widgets", "views"]) assert.ok(cs[part], part);
  for (const view of ["matrix", "overview", "grid", "lists", "image"]) assert.equal(typeof cs.views[view], "function", view);
  for (const f of scripts) {
    const text = fs.readFileSync(path.join(WEB, "explorer", f), "utf8");
    assert.ok(text.split("\n").length <= 500, f + " is under 500 lines");
    if (f === "source.js") continue;
    assert.doesNotMatch(text, /\bfetch\(|"api\/|CAMSCOPE_DATA\b/, f + " asks the source, not the network");
  }
});

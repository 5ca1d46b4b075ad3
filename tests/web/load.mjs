// Loads web/explorer/ classic scripts into a fresh node vm context (window = {}, no DOM) and
// returns the window.camscope namespace they fill. Only scripts that touch the DOM or the network
// when called, not when loaded, can be loaded this way (dom.js, url.js, filters.js, export.js, ...).
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

export const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../web");

export function load(...files) {
  const context = vm.createContext({ window: {}, URLSearchParams });
  for (const f of files) vm.runInContext(fs.readFileSync(path.join(WEB, "explorer", f), "utf8"), context, { filename: f });
  return context.window.camscope;
}

// Values made in the vm's realm as plain values of this one (deepStrictEqual compares prototypes).
export const plain = (v) => JSON.parse(JSON.stringify(v));

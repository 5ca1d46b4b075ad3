// camscope explorer: one image (#image/12?<cam settings>&<the list's filters>): its CAM for any
// target, method and layer the source offers, the dual view of an error, its tags, prev/next.
"use strict";

(function (cs) {
  const { $, el, clear, editing } = cs.dom, { parseHash, hashOf, go, replaceHash } = cs.url;

  cs.views = cs.views || {};
  // ctx: app.js. The source S says which maps exist and where they come from: any target, method and
  // layer computed on request (S.anyCam) or the precomputed predicted- and true-class maps.
  cs.views.image = function (ctx) {
    const { S, D, K, C, tags, list, name, rowInfo } = ctx, pct = cs.dom.pct, F = cs.filters;
    const { filterParams, intParam, numParam } = F;
    let camSeq = 0, imageRow = -1, imageQuery = new URLSearchParams(), imageList = [];
    const PERTURB = { scorecam: "Score-CAM", ablationcam: "Ablation-CAM" };

    function noEvidence(cls, layer) { return "no positive evidence for " + name(cls) + " at " + layer; }
    // A loaded map into an <img>: the server's PNG as a blob URL (the previous one released), or
    // the precomputed file's URL.
    function showMap(img, res) {
      if (!res.blob) { img.src = res.url; return; }
      const old = img.src;
      img.src = URL.createObjectURL(res.blob);
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    }

    function layerInfo(path) { return (S.layers || []).find((l) => l.path === path); }
    function imageSettings() {
      const q = new URLSearchParams(filterParams(imageQuery));
      const t = $("target-select").value, m = $("method-select").value, l = $("layer-select").value;
      if (t && t !== "pred") q.set("target", t);
      if (S.anyCam && m !== S.defaultMethod) q.set("method", m);
      if (S.anyCam && l !== S.defaultLayer) q.set("layer", l);
      if ($("opacity").value !== "0.5") q.set("op", $("opacity").value);
      if ($("heat-only").checked) q.set("heat", "1");
      if ($("zoom").value !== "1") q.set("zoom", $("zoom").value);
      if (!$("mc-label").hidden && $("mc-input").value) q.set("mc", $("mc-input").value);
      return q;
    }
    function saveImageState() {
      imageQuery = imageSettings();
      replaceHash(hashOf("image/" + imageRow, imageQuery));
    }
    // The CAM: where the source blends (served), the server's JET heatmap at the input size
    // (api/cam?...&view=heatmap, no image blended) over the input image with CSS opacity α, i.e.
    // α·heatmap + (1−α)·image: pytorch-grad-cam's show_cam_on_image with image_weight = 1 − α,
    // without its final division by the peak (so α = 0.5 is the PNG overlay's blend, a little
    // darker); "heatmap only" hides the image. Offline, or from a server without the heatmap view
    // (its answer lacks "view": "heatmap"), the blended overlay PNG is shown as it is and the
    // slider and the toggle are hidden.
    function applyStage() {
      const z = +$("zoom").value || 1, base = 320;
      const st = $("stage");
      st.style.width = base * z + "px";
      st.style.height = base * z + "px";
      const blend = S.blends();
      $("opacity-label").hidden = $("heat-label").hidden = !blend;
      const heat = blend && $("heat-only").checked;
      $("cam-img").style.opacity = blend ? (heat ? "1" : $("opacity").value) : "1";
      $("image-input").style.visibility = heat ? "hidden" : "visible";
      $("colorbar-note").textContent = blend ? "CAM opacity α: α·heatmap + (1−α)·image" : "";
    }

    function showImage(r, q) {
      const x = rowInfo(r);
      imageRow = r;
      imageQuery = q;
      imageList = list(q);
      let pos = imageList.indexOf(r);
      const fq = filterParams(q);
      $("img-back").href = "#" + hashOf("grid", (() => {
        const g = new URLSearchParams(fq);
        if (pos >= 0) { const p = Math.floor(pos / F.pageSize(fq)); if (p) g.set("page", String(p + 1)); }
        return g;
      })());
      $("img-pos").textContent = pos >= 0 ? (pos + 1) + " of " + imageList.length + " (" + F.describe(C, q) + ")" : "not in the list";
      $("img-prev").disabled = pos <= 0;
      $("img-next").disabled = pos < 0 || pos >= imageList.length - 1;
      $("image-title").textContent = "Image #" + x.index + " (row " + r + ")";
      const iu = S.inputUrl(r);
      for (const img of [$("image-input"), ...document.querySelectorAll("#dual-view img.under")])
        if (iu) img.src = iu; else img.removeAttribute("src");
      const labels = clear($("image-labels"));
      const pt = C.pTrue(r);
      labels.append(el("span", { text: "true: " + name(x.label) + " — predicted: " + name(x.pred) + " (" + pct(x.conf) + ")" +
                                       (!x.correct && pt !== null ? ", p(true) " + pct(pt) : "") + " " }),
                    el("b", { class: x.correct ? "" : "error", text: x.correct ? "correct" : "misclassified" }),
                    " ", el("a", { href: "#class/" + x.label, text: "class " + name(x.label) }));
      const flags = C.flagOf(r);
      for (const k of ["label", "hce", "lcc"]) if (flags & F.flagBits[k]) labels.append(" ", el("span", { class: "chip flag", text: F.flagNames[k] }));
      // The flip test on a tested error: what the model predicts without the predicted class's top evidence.
      const flip = C.flipOf(r);
      $("image-flip").hidden = !flip;
      $("image-flip").textContent = flip ? "flip test: removing the top " + Math.round(100 * C.flips.fraction) + " % of the predicted class's evidence gives '" +
                                           name(D.rows.flip[r]) + "' (" + F.flipNames[flip] + ")" : "";
      // CAM controls: any target class, method and layer the source computes; else its precomputed maps
      // (the predicted and the true class).
      const ts = clear($("target-select")), ms = clear($("method-select")), ls = clear($("layer-select"));
      ts.append(el("option", { value: "pred", text: "predicted: " + name(x.pred) }),
                el("option", { value: "true", text: "true: " + name(x.label) }));
      for (let c = 0; c < K; ++c) ts.append(el("option", { value: String(c), text: c + ": " + name(c) }));
      for (const m of S.methods) ms.append(el("option", { value: m, text: m }));
      for (const l of S.layers)
        ls.append(el("option", { value: l.path, text: l.path + (l.shape.length ? " (" + l.shape.slice(1).join("×") + ")" : "") }));
      const want = (sel, v, dflt) => { sel.value = v !== null && [...sel.options].some((o) => o.value === v && !o.disabled) ? v : dflt; };
      want(ms, S.anyCam ? q.get("method") : null, S.defaultMethod);
      want(ls, S.anyCam ? q.get("layer") : null, S.defaultLayer);
      if (!S.anyCam) for (const o of ts.options) o.disabled = !(o.value === "pred" || o.value === "true");
      want(ts, q.get("target"), "pred");
      ms.disabled = ls.disabled = !S.anyCam;
      ts.disabled = !S.anyCam && x.correct;
      const op = numParam(q, "op");
      $("opacity").value = op !== null && op >= 0 && op <= 1 ? String(op) : "0.5";
      $("heat-only").checked = S.mayBlend && q.get("heat") === "1";
      want($("zoom"), q.get("zoom"), "1");
      $("mc-input").value = intParam(q, "mc", 1, 1 << 20) || "";
      applyStage();
      // Top-k: each class is a button that makes it the CAM target.
      const top = clear($("image-top"));
      top.append(el("tr", {}, el("th", { text: "class" }), el("th", { text: "probability" }), el("th", {})));
      D.rows.top[r].forEach((c, i) => {
        const p = D.rows.top_p[r][i];
        const b = el("button", { type: "button", class: "linkish", text: name(c), disabled: !S.anyCam && c !== x.pred && c !== x.label,
                                 "aria-label": "show the CAM of " + name(c) });
        b.addEventListener("click", () => {
          ts.value = S.anyCam ? String(c) : (c === x.pred ? "pred" : "true");
          onCamChange();
        });
        top.append(el("tr", { dataset: { cls: String(c) } }, el("td", {}, b), el("td", { class: "num", text: pct(p) }),
                      el("td", {}, el("span", { class: "bar", style: "width:" + Math.round(120 * p) + "px" }))));
      });
      showImageTags();
      updateCam();
      $("dual-view").hidden = x.correct;
    }
    function onCamChange() { saveImageState(); updateCam(); }
    function imageStep(d) {
      // from the fragment's row: a key pressed before the hashchange was handled still steps once more
      const h = parseHash();
      const cur = h.view === "image" && /^\d+$/.test(h.args[0] || "") ? +h.args[0] : imageRow;
      const pos = imageList.indexOf(cur);
      if (pos < 0) return;
      const j = pos + d;
      if (j < 0 || j >= imageList.length) return;
      go(hashOf("image/" + imageList[j], imageSettings()));
    }
    function showImageTags() {
      const t = tags.get(imageRow);
      for (const b of document.querySelectorAll("#image-tags button[data-tag]")) b.setAttribute("aria-pressed", t.includes(b.dataset.tag) ? "true" : "false");
      const sel = $("image-relabel-to"), k = cs.tags.chosen(t);
      if (sel.options.length !== K + 1)
        for (let c = 0; c < K; ++c) sel.append(el("option", { value: String(c), text: c + ": " + name(c) }));
      sel.value = k >= 0 && k < K ? String(k) : "";
      const box = clear($("image-tag-list"));
      if (!t.length) box.append("no tags");
      for (const x of t)
        box.append(el("span", { class: "chip" }, el("span", { text: cs.tags.text(x, name) + " " }),
                       el("button", { type: "button", class: "x", "aria-label": "remove tag " + x, text: "×",
                                      onclick: () => tagImage(() => tags.set(imageRow, tags.get(imageRow).filter((y) => y !== x))) })), " ");
      $("tags-mode").textContent = tags.describe();
    }
    async function tagImage(fn) {
      try { await fn(); } catch (e) { $("tags-mode").textContent = "tagging failed: " + e.message; return; }
      showImageTags();
    }
    function updateCostNote() {
      const m = $("method-select").value;
      const perturb = S.anyCam && PERTURB[m];
      $("mc-label").hidden = !perturb;
      $("cost-note").hidden = !perturb;
      if (perturb) {
        const l = layerInfo($("layer-select").value);
        const ch = l && l.shape && l.shape.length >= 2 ? l.shape[1] : null;
        const cap = +D.max_channels || 0;  // the server's cap (serve --max-channels; 0: none)
        let mc = +$("mc-input").value || 0;
        if (cap && (!mc || mc > cap)) mc = cap;
        $("mc-input").placeholder = cap ? "at most " + cap : "all";
        const n = mc && ch ? Math.min(mc, ch) : (mc || ch);
        $("cost-note").textContent = PERTURB[m] + " runs one extra forward pass per channel of the layer" +
          (ch ? " (" + ch + " channels here)" : "") + ", so it is much slower than gradient methods" +
          (n ? ": about " + n + " forward passes per map" : "") + ". 'max channels' keeps only the most active channels (faster, approximate)" +
          (cap ? "; this server uses at most " + cap + "." : ".");
      }
    }
    let camAbort = null, dualAbort = null;

    async function updateCam() {
      const r = imageRow, x = rowInfo(r);
      updateCostNote();
      const target = $("target-select").value, method = $("method-select").value, layer = $("layer-select").value;
      const mc = !$("mc-label").hidden ? +$("mc-input").value || 0 : 0;
      const img = $("cam-img"), stats = $("cam-stats"), err = $("cam-error"), blankNote = $("cam-blank");
      const tcls = target === "pred" ? x.pred : target === "true" ? x.label : Number(target);
      $("cam-caption").textContent = method + " at " + layer + " for class '" + name(tcls) + "'" +
                                     " — the CAM over the image; opacity 0 shows the image alone";
      for (const tr of $("image-top").rows) tr.classList.toggle("target", tr.dataset.cls === String(tcls));
      err.hidden = true;
      blankNote.hidden = true;
      // The sanity gate tested the report's method and layer: a failed gate is noted on those maps.
      $("cam-sanity").hidden = !(D.sanity && D.sanity.passed === false && method === D.run.method && layer === D.run.layer);
      const showBlank = () => { blankNote.textContent = noEvidence(tcls, layer); blankNote.hidden = false; };
      const map = S.cam(r, target, method, layer, mc, true);
      if (!map) {
        img.removeAttribute("src");
        stats.textContent = S.missingCam;
        return;
      }
      const seq = ++camSeq;
      if (camAbort) camAbort.abort();  // the previous image's CAM, if still waiting: not wanted now
      const ctl = camAbort = new AbortController();
      img.dataset.loading = "1";
      stats.textContent = "computing…";
      try {
        const t0 = performance.now();
        const res = await map.load(ctl.signal);
        if (seq !== camSeq) return;  // a newer request replaced this one
        showMap(img, res);
        img.dataset.fingerprint = res.fingerprint;
        const info = res.info;  // the server's description of the map, when it computed it
        if (info) {
          img.dataset.target = String(info.target);
          img.dataset.degenerate = info.degenerate ? "1" : "0";
          img.dataset.view = info.view || "overlay";
        }
        if (res.settle()) applyStage();
        if (res.degenerate) showBlank();
        const blank = res.degenerate ? ": all zero after ReLU, nothing at this layer raises the class score (hatched: nothing to show)" : "";
        if (!info) {
          stats.textContent = "precomputed " + D.run.method + " map" + (res.degenerate ? ": all zero after ReLU (hatched: nothing to show)" : "");
        } else {
          stats.textContent = "class " + info.target_name + " (p = " + pct(info.prob) + "), map " + info.fh + "×" + info.fw +
                              (blank || ", peak at row " + info.peak[0] + ", col " + info.peak[1] + ", mean " + info.mean) +
                              "; answered in " + Math.round(performance.now() - t0) + " ms";
        }
      } catch (e) {
        if (seq !== camSeq) return;
        err.textContent = "CAM failed: " + e.message;
        err.hidden = false;
        stats.textContent = "";
      } finally {
        if (seq === camSeq) delete img.dataset.loading;
      }
      if (!x.correct) updateDual();  // follows the method and layer (unchanged URLs do not reload)
    }
    // The dual view: the maps of the true and the predicted class, their difference and Finer-CAM's
    // contrast, each with what the source knows of it (the run's flags offline, the server's
    // X-Camscope-Cam header when served: any method and layer), so a blank map is named as such
    // under its picture. Each map lies over the image; the difference map (white = no difference) is
    // drawn translucent over it.
    let dualSeq = 0;
    async function updateDual() {
      const r = imageRow, x = rowInfo(r);
      const m = $("method-select").value, l = $("layer-select").value;
      const mc = !$("mc-label").hidden ? +$("mc-input").value || 0 : 0;
      const seq = ++dualSeq;
      if (dualAbort) dualAbort.abort();
      const ctl = dualAbort = new AbortController();
      const parts = [["dual-true", S.cam(r, "true", m, l, mc), x.label, "true class: " + name(x.label)],
                     ["dual-pred", S.cam(r, "pred", m, l, mc), x.pred, "predicted class: " + name(x.pred)],
                     ["dual-diff", S.diff(r, m, l, mc), -1, "difference: predicted − true (red: predicted higher, blue: true higher)"]];
      const finer = S.finer(r, l);
      const finerOn = $("finer-toggle").checked && !!finer;
      $("dual-finer-fig").hidden = !finerOn;
      if (finerOn) parts.push(["dual-finer", finer, x.pred, "Finer-CAM: why '" + name(x.pred) + "' and not '" + name(x.label) + "'"]);
      for (const [id, map, cls, text] of parts) {
        const img = $(id), cap = $(id + "-caption");
        cap.textContent = text;
        cap.classList.remove("noev-cap");
        if (!map) { img.removeAttribute("src"); continue; }
        let res;
        try {
          res = await map.load(ctl.signal);
        } catch (err) {
          if (seq !== dualSeq) return;
          img.removeAttribute("src");
          cap.textContent = text + " (failed: " + (err.statusText !== undefined ? err.statusText : err.message) + ")";
          continue;
        }
        if (seq !== dualSeq) return;  // a newer update replaced this one
        showMap(img, res);
        if (res.degenerate) {
          cap.textContent = cls < 0 ? "no difference shown: a map has no positive evidence at " + l : text + " — " + noEvidence(cls, l);
          cap.classList.add("noev-cap");
        }
      }
    }

    function setupImageControls() {
      for (const id of ["target-select", "method-select", "layer-select"]) $(id).addEventListener("change", onCamChange);
      $("mc-input").addEventListener("change", onCamChange);
      $("opacity").addEventListener("input", () => { applyStage(); saveImageState(); });
      $("heat-only").addEventListener("change", () => { applyStage(); saveImageState(); });
      $("zoom").addEventListener("change", () => { applyStage(); saveImageState(); });
      $("finer-toggle").addEventListener("change", () => updateDual());
      $("img-prev").addEventListener("click", () => imageStep(-1));
      $("img-next").addEventListener("click", () => imageStep(1));
      for (const b of document.querySelectorAll("#image-tags button[data-tag]"))
        b.addEventListener("click", () => tagImage(() => {
          const cur = tags.get(imageRow);  // relabel off: its chosen label goes with it
          if (b.dataset.tag === "relabel" && cur.includes("relabel"))
            return tags.set(imageRow, cs.tags.withLabel(cur, -1).filter((x) => x !== "relabel"));
          return tags.toggle([imageRow], b.dataset.tag);
        }));
      $("image-relabel-to").addEventListener("change", (e) => {
        const v = e.target.value;
        tagImage(() => tags.set(imageRow, cs.tags.withLabel(tags.get(imageRow), v === "" ? -1 : +v)));
      });
      $("image-tag-add").addEventListener("click", () => {
        const t = $("image-tag-text").value.trim();
        if (!cs.tags.valid(t)) { $("tags-mode").textContent = cs.tags.invalidText; return; }
        $("image-tag-text").value = "";
        tagImage(() => tags.toggle([imageRow], t, true));
      });
      document.addEventListener("keydown", (e) => {
        if (document.body.dataset.view !== "image" || editing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
        if (e.key === "ArrowRight" || e.key === "j") { e.preventDefault(); imageStep(1); }
        else if (e.key === "ArrowLeft" || e.key === "k") { e.preventDefault(); imageStep(-1); }
      });
    }

    return { show: showImage, setup: setupImageControls };
  };
})(window.camscope = window.camscope || {});

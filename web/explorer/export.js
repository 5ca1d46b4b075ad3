// camscope explorer: a list of images as CSV or JSON (row, index, label and prediction with their
// names, confidence, tags), downloaded by the browser.
"use strict";

(function (cs) {
  const COLUMNS = ["row", "index", "label", "label_name", "prediction", "prediction_name", "confidence", "tags"];
  // A CSV cell: quoted when it holds a quote, comma or line break, or starts like a formula
  // (=, +, -, @: a spreadsheet would run it).
  function csvCell(v) {
    const s = String(v);
    return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function toCsv(recs) {
    const lines = [COLUMNS.join(",")];
    for (const o of recs) lines.push(COLUMNS.map((c) => csvCell(c === "tags" ? o.tags.join(";") : o[c])).join(","));
    return lines.join("\n") + "\n";
  }
  // The records of rows of the data D, with tagsOf(row).
  function records(D, rows, tagsOf) {
    const X = D.rows, name = (c) => D.classes[c];
    return rows.map((r) => ({ row: r, index: X.index[r], label: X.label[r], label_name: name(X.label[r]), prediction: X.pred[r],
                              prediction_name: name(X.pred[r]), confidence: X.conf[r], tags: tagsOf(r) }));
  }
  function download(filename, text, type) {
    const a = cs.dom.el("a", { href: URL.createObjectURL(new Blob([text], { type })), download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }
  // Downloads camscope-<what>.csv or .json.
  function save(D, rows, tagsOf, what, fmt) {
    const recs = records(D, rows, tagsOf);
    if (fmt === "csv") download("camscope-" + what + ".csv", toCsv(recs), "text/csv");
    else download("camscope-" + what + ".json", JSON.stringify({ run: D.run.model_path, images: recs }, null, 1), "application/json");
  }

  cs.exporter = { csvCell, toCsv, records, save };
})(window.camscope = window.camscope || {});

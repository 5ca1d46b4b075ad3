// camscope explorer: the tags of images (relabel, ambiguous, ok, or any text). Kept by the server
// when the source has a tags API (saved to disk when it can), else in this browser's localStorage
// under "camscope-tags:" + tags_key.
"use strict";

(function (cs) {
  // A tag: 1–40 of [A-Za-z0-9 _-], or "relabel:<class index>", the label a reviewer chose (at most
  // one per image; `camscope rescore` applies it). serve/tags.hpp is the file format's home.
  const TAG_RE = /^[A-Za-z0-9 _-]{1,40}$/, CHOSEN_RE = /^relabel:(0|[1-9][0-9]{0,8})$/;
  const valid = (t) => TAG_RE.test(t) || CHOSEN_RE.test(t);
  // The class a row's tags choose as its label, or -1.
  const chosen = (tags) => { for (const t of tags) { const m = CHOSEN_RE.exec(t); if (m) return +m[1]; } return -1; };
  // The tags with class k as the chosen label ("relabel" and "relabel:k"; k < 0: no chosen label).
  const withLabel = (tags, k) => {
    const rest = tags.filter((t) => !CHOSEN_RE.test(t));
    return k >= 0 ? [...new Set(rest.concat(["relabel", "relabel:" + k]))] : rest;
  };
  // What a person reads for a tag: "relabel → cat" for a chosen label (name(k) names class k; the
  // tag as it is for a class the data does not have).
  const text = (t, name) => {
    const m = CHOSEN_RE.exec(t), n = m ? name(+m[1]) : undefined;
    return n !== undefined ? "relabel → " + n : t;
  };

  // The tag store of the source S's data: {mode "server" | "local", persisted, version, load(),
  // get(row), rows(), set(row, tags), toggle(rows, tag, on), describe()}.
  function store(S) {
    const D = S.data, N = D.rows.label.length;
    return {
      map: {}, mode: "local", persisted: false, version: 0,
      key() {
        return "camscope-tags:" + (D.tags_key || ("run:" + D.run.model_path + "|" + D.run.dataset_path + "|" + D.run.n));
      },
      async load() {
        const j = await S.loadTags();
        if (j) {
          this.map = j.tags || {};
          this.mode = "server";
          this.persisted = !!j.persisted;
          this.version++;
          return;
        }
        this.mode = "local";
        try { this.map = JSON.parse(localStorage.getItem(this.key()) || "{}") || {}; } catch (e) { this.map = {}; }
        this.version++;
      },
      get(r) { return this.map[String(r)] || []; },
      rows() { return Object.keys(this.map).map(Number).filter((r) => r >= 0 && r < N && this.get(r).length).sort((a, b) => a - b); },
      async set(r, tags) {
        tags = [...new Set(tags)].filter(valid).slice(0, 16);
        if (this.mode === "server") {
          const j = await S.saveTags(r, tags);
          this.map = j.tags || {};
          this.persisted = !!j.persisted;
        } else {
          if (tags.length) this.map[String(r)] = tags; else delete this.map[String(r)];
          localStorage.setItem(this.key(), JSON.stringify(this.map));
        }
        this.version++;
      },
      async toggle(rows, tag, on) {
        for (const r of rows) {
          const cur = this.get(r);
          const want = on === undefined ? !cur.includes(tag) : on;
          if (want && !cur.includes(tag)) await this.set(r, cur.concat([tag]));
          if (!want && cur.includes(tag)) await this.set(r, cur.filter((x) => x !== tag));
        }
      },
      describe() {
        return this.mode === "server"
          ? (this.persisted ? "Tags are saved by the server to disk (tags.json in the results folder, or serve --tags FILE)." : "Tags are kept by the server in memory only (start it with --results or --tags to save them).")
          : "Tags are saved in this browser (localStorage" + S.localTagsNote + ").";
      },
    };
  }

  cs.tags = { store, valid, chosen, withLabel, text, invalidText: "a tag is 1–40 characters of letters, digits, space, _ and -" };
})(window.camscope = window.camscope || {});

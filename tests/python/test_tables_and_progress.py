"""What a PyTorch user expects of the package (issue 24): ``camscope.__version__`` (one version: the
CMake project's, as ``camscope --version`` prints it and pyproject.toml repeats it); ``dir(camscope)``
showing the public API only; tables as pandas DataFrames when pandas imports, lists of dicts when it
does not, with class names beside class indices; progress that shows each stage once, no
``0.0 it/s`` for a stage reported only at its end, and in a notebook an HTML bar updated in place
(display_data / update_display_data, no widget comm messages: headless runs work).

Run by CTest (python.tables_and_progress) like test_camscope.py: PYTHONPATH=<build>/python,
CAMSCOPE_BINARY, CAMSCOPE_FIXTURES_DIR."""
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import camscope
from camscope import _progress

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
CLI = os.environ.get("CAMSCOPE_BINARY", "camscope")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODEL = os.path.join(FIX, "tiny_cifar10_model.pt")
DATA = os.path.join(FIX, "tiny_cifar10")
ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
ZERO_RATE = re.compile(r"(?<![0-9.])0\.0 it/s")  # the rate of a stage seen only at its end, as it was shown


@pytest.fixture(scope="module")
def data():
    return camscope.Dataset(DATA)


@pytest.fixture(scope="module")
def report(data):
    return camscope.analyze(camscope.Model(MODEL), data, faithfulness_n=0, progress=False)


# ----------------------------------------------------------------------------- version and names


def test_version_is_the_cmake_projects_everywhere():
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        cmake = re.search(r"project\(camscope VERSION ([0-9.]+)", f.read()).group(1)
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        pyproject = re.search(r'(?m)^version = "([^"]+)"', f.read()).group(1)
    r = subprocess.run([CLI, "--version"], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"camscope {cmake}"
    assert camscope.__version__ == camscope._c.__version__ == cmake == pyproject


def test_dir_shows_the_public_api_only():
    names = dir(camscope)
    assert names == sorted(camscope.__all__ + ["__version__"])
    for hidden in ("np", "os", "json", "typing", "Any", "Optional", "_args", "_c", "_camscope", "_progress", "_report"):
        assert hidden not in names
    star = {}
    exec("from camscope import *", star)
    assert set(star) - {"__builtins__"} == set(camscope.__all__)
    for n in camscope.__all__:
        assert getattr(camscope, n) is star[n]
    # the signatures' types and explore's default stay reachable, as do the private modules
    assert camscope.PathLike is camscope._args.PathLike and camscope.ClassRef and camscope.Images
    assert camscope.NOTEBOOK_FRAME_ANCESTORS
    assert {"Model", "Dataset", "Report", "Predictions", "analyze", "explore", "Error"} <= set(names)


# ----------------------------------------------------------------------------- tables


def test_report_tables_as_dataframes(report, data):
    pd = pytest.importorskip("pandas")
    s, classes, cm = report.summary, report.summary["classes"], report.confusion
    per_class = report.per_class
    assert isinstance(per_class, pd.DataFrame) and len(per_class) == len(classes)
    assert list(per_class.columns[:3]) == ["index", "name", "support"]
    assert per_class["name"].tolist() == classes
    assert per_class["support"].tolist() == cm.sum(axis=1).tolist()  # the matrix's rows, counted apart
    assert per_class["accuracy"].tolist() == [c["accuracy"] for c in s["per_class"]]
    assert "focus.centre_share_correct" in per_class.columns  # nested keys: dotted columns
    named = per_class.dropna(subset=["most_confused_with"])
    assert [classes[int(i)] for i in named["most_confused_with"]] == named["most_confused_with_name"].tolist()

    pairs = report.pairs
    assert isinstance(pairs, pd.DataFrame) and len(pairs) == len(s["pairs"]["directed"]) > 0
    assert list(pairs.columns[:6]) == ["true", "true_name", "pred", "pred_name", "count", "rate"]
    for row in pairs.to_dict("records"):
        assert (row["true_name"], row["pred_name"]) == (classes[row["true"]], classes[row["pred"]])
        assert row["count"] == cm[row["true"], row["pred"]] and row["true"] != row["pred"]
    sym = report.table("symmetric_pairs")
    assert [(classes[a], classes[b]) for a, b in zip(sym["a"], sym["b"])] == list(zip(sym["a_name"], sym["b_name"]))

    errs = report.label_errors
    assert isinstance(errs, pd.DataFrame) and len(errs) == len(s["label_issues"]["items"])
    for row in errs.to_dict("records"):
        assert (row["given_name"], row["suggested_name"]) == (classes[row["given"]], classes[row["suggested"]])
        assert data[int(row["index"])][1] == row["given"]  # the dataset's own label
    low = report.table("low_confidence_correct")
    assert (low["label"] == low["pred"]).all() and (low["confidence"] < 0.5).all()

    with pytest.raises(camscope.UsageError, match="no table 'failure_modes'.*per_class, pairs"):
        report.table("failure_modes")


def test_predictions_table(data):
    model = camscope.Model(MODEL)
    p = model.predict(data, limit=20, progress=False)
    t = p.table(frame=False)
    assert [r["index"] for r in t] == list(range(20))
    assert [r["label"] for r in t] == [data[i][1] for i in range(20)]
    assert [r["pred"] for r in t] == p.logits.argmax(axis=1).tolist()
    assert [r["pred_name"] for r in t] == [data.class_names[c] for c in p.logits.argmax(axis=1)]
    assert [r["label_name"] for r in t] == [data.class_names[data[i][1]] for i in range(20)]
    np.testing.assert_allclose([r["confidence"] for r in t], p.probs.max(axis=1), rtol=1e-7)
    pd = pytest.importorskip("pandas")
    f = p.table()
    assert isinstance(f, pd.DataFrame)
    assert list(f.columns) == ["index", "label", "label_name", "pred", "pred_name", "confidence"]
    assert f.to_dict("records") == t
    # arrays: no dataset indices nor labels; no names for a model without any
    q = model.predict(np.stack([data[i][0] for i in range(3)]), progress=False).table()
    assert list(q.columns) == ["pred", "pred_name", "confidence"] and q["pred_name"].isna().all()


def test_tables_without_pandas(report, data, monkeypatch):
    """pandas stays optional: unimportable, every table is a list of dicts, the summary's own."""
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    def unnamed(rows):  # without the name columns the package adds
        return [{k: v for k, v in r.items() if not k.endswith("_name")} for r in rows]

    per_class = report.per_class
    assert isinstance(per_class, list) and unnamed(per_class) == report.summary["per_class"]
    assert [c["name"] for c in per_class] == report.summary["classes"]
    pairs = report.pairs
    assert isinstance(pairs, list) and pairs
    assert unnamed(pairs) == report.summary["pairs"]["directed"]
    assert all(r["true_name"] == report.summary["classes"][r["true"]] for r in pairs)
    assert "true_name" not in report.summary["pairs"]["directed"][0]  # the summary itself is left as it was
    assert "most_confused_with_name" not in report.summary["per_class"][0]
    assert isinstance(report.label_errors, list)
    rows = camscope.Model(MODEL).predict(data, limit=4, progress=False).table()
    assert isinstance(rows, list) and sorted(rows[0]) == sorted(["index", "label", "label_name", "pred", "pred_name",
                                                                 "confidence"])
    with pytest.raises(ImportError, match="frame=True needs pandas"):
        report.table("pairs", frame=True)


# ----------------------------------------------------------------------------- progress


def test_progress_text_of_one_shot_and_stepped_stages(monkeypatch, capsys):
    """The renderer's own figures, fed by hand: a stage reported once, at its end, shows its time and
    no rate; a stage in steps shows done / seconds; each stage ends with one line."""
    monkeypatch.setattr(_progress, "_in_notebook", lambda: False)
    monkeypatch.setattr(_progress, "_bar", None)
    _progress.event("focus", 200, 200, False, 0.25)
    _progress.event("focus", 200, 200, True, 0.25)
    _progress.event("pass", 50, 200, False, 1.0)
    _progress.event("pass", 200, 200, False, 4.0)
    _progress.event("pass", 200, 200, True, 4.0)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["focus [##############################] 200/200 in 0.25 s",
                     "pass [#######.......................] 50/200, 50.0 it/s, ETA 3.0 s",
                     "pass [##############################] 200/200 in 4.0 s (50.0 it/s)"]


def stages(text):
    """label -> its lines, from plain progress output (one bar a line: "label [###...] figures")."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"(.+?) \[[#.]+\] (.*)$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def test_script_progress_each_stage_once():
    """analyze + write in a script, stderr to a pipe (a log): every stage ends exactly once, no line
    repeats a stage's end, no 0.0 it/s."""
    script = textwrap.dedent(f"""
        import camscope
        rep = camscope.analyze({MODEL!r}, {DATA!r}, faithfulness_n=4, progress=True)
        import tempfile, os
        with tempfile.TemporaryDirectory() as d:
            rep.write(os.path.join(d, "r"))
        camscope.Model({MODEL!r}).predict(camscope.Dataset({DATA!r}), progress=True)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert not ZERO_RATE.search(r.stderr), r.stderr
    seen = stages(r.stderr)
    assert {"predict+CAM", "CAM focus", "CAM faithfulness", "class galleries", "predict"} <= set(seen), r.stderr
    for label, lines in seen.items():
        ends = [ln for ln in lines if " in " in ln]
        assert len(ends) == 1 and lines[-1] == ends[0], (label, lines)
        total = ends[0].split()[0]
        assert [ln for ln in lines if ln.split(",")[0].split()[0] == total] == ends, (label, lines)


def test_terminal_progress_redraws_one_line_per_stage():
    """On a TTY each stage is one line redrawn with \\r, ended by one newline."""
    import pty

    master, slave = pty.openpty()
    script = f"import camscope\ncamscope.analyze({MODEL!r}, {DATA!r}, faithfulness_n=0, progress=True)\n"
    p = subprocess.Popen([sys.executable, "-c", script], stderr=slave, stdout=subprocess.DEVNULL, env=ENV)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not b:
            break
        chunks.append(b)
    assert p.wait() == 0
    os.close(master)
    text = b"".join(chunks).decode()
    lines = [ln for ln in text.replace("\r\n", "\n").split("\n") if ln.strip()]
    finals = [ln.split("\r")[-1].replace("\x1b[K", "") for ln in lines]
    labels = [f.split(" [")[0] for f in finals]
    assert labels[:2] == ["predict+CAM", "CAM focus"] and len(set(labels)) == len(labels), finals
    assert all(" in " in f and not ZERO_RATE.search(f) for f in finals), finals


def test_notebook_progress_is_html_updated_in_place(tmp_path):
    """In a Jupyter kernel (nbclient, as `jupyter execute` runs it): one display_data per stage with an
    HTML <progress>, updated through its display_id; no widget comm messages."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    messages = []

    class Recording(nbclient.NotebookClient):
        def process_message(self, msg, cell, cell_index):
            messages.append(msg)
            return super().process_message(msg, cell, cell_index)

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        f"import camscope\nrep = camscope.analyze({MODEL!r}, {DATA!r}, faithfulness_n=4, progress=True)\nrep.n")]
    client = Recording(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    kinds = [m["msg_type"] for m in messages]
    assert not {"comm_open", "comm_msg", "comm_close"} & set(kinds)
    shown = [m for m in messages if m["msg_type"] == "display_data"]
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    ids = [m["content"]["transient"]["display_id"] for m in shown]
    labels = [re.search(r"<code>(.*?)</code>", m["content"]["data"]["text/html"]).group(1) for m in shown]
    assert labels == ["predict+CAM", "CAM focus", "flip test", "CAM faithfulness"] and len(set(ids)) == len(ids)
    assert all("<progress" in m["content"]["data"]["text/html"] for m in shown + updates)
    last = {}
    for m in shown + updates:
        last[m["content"]["transient"]["display_id"]] = m["content"]["data"]
    for i in ids:  # each bar ends full, with its time, and plain text beside the HTML
        assert " in " in last[i]["text/plain"] and not ZERO_RATE.search(last[i]["text/plain"])
        done = re.search(r"value='(\d+)' max='(\d+)'", last[i]["text/html"])
        assert done.group(1) == done.group(2)
    outputs = nb.cells[0].outputs
    assert [o["output_type"] for o in outputs].count("display_data") == 4  # updated in place, not appended
    assert outputs[-1]["data"]["text/plain"] == "200"

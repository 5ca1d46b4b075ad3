"""examples/analyze_in_notebook.ipynb executed headless: as the README runs it (`jupyter-execute`,
Debian's python3-nbclient 0.7 with ipywidgets 6), and cell by cell with nbclient's own client (its
default widget handling) to check the outputs: the report's HTML, the explorer's IFrame (whose
server answers this process while the kernel runs, until the notebook stops it) and the widgets.
The executed notebook is kept in CAMSCOPE_ARTIFACTS (build/test-artifacts/)."""
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import nbformat
import pytest
from nbclient import NotebookClient

os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # ipykernel debugger notes on frozen modules
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
NOTEBOOK = os.path.join(ROOT, "examples", "analyze_in_notebook.ipynb")


def html_outputs(cell):
    return [o["data"]["text/html"] for o in cell.get("outputs", []) if "data" in o and "text/html" in o["data"]]


def test_notebook_runs_with_jupyter_execute():
    """The README's command: every cell runs (jupyter-execute exits non-zero on any error, and on
    nbclient's KeyError 'state' that ipywidgets 6's widgets caused before camscope.widget sent
    their state in both formats)."""
    exe = shutil.which("jupyter-execute") or "/usr/bin/jupyter-execute"
    r = subprocess.run([exe, "--kernel_name=python3", NOTEBOOK], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
    assert "Traceback" not in r.stderr, r.stderr[-6000:]


def test_widget_explorer_runs_headless(tmp_path):
    """camscope.widget alone (no progress output) under jupyter-execute: Debian's nbclient 0.7
    reads ipywidgets 6's widgets' state without KeyError 'state'."""
    fix = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(ROOT, "tests", "fixtures"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import camscope\n"
        f"m, d = camscope.Model({os.path.join(fix, 'tiny_cifar10_model.pt')!r}), "
        f"camscope.Dataset({os.path.join(fix, 'tiny_cifar10')!r})\n"
        "r = camscope.analyze(m, d, progress=False)"),
        nbformat.v4.new_code_cell("w = camscope.widget(r)\nw"),
        nbformat.v4.new_code_cell("w.children[0].children[0].value = 3  # another class: new tiles, new widgets")]
    path = tmp_path / "widget.ipynb"
    nbformat.write(nb, str(path))
    exe = shutil.which("jupyter-execute") or "/usr/bin/jupyter-execute"
    r = subprocess.run([exe, "--kernel_name=python3", str(path)], capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-6000:]


def test_notebook_runs_and_shows_report_and_explorer():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    frames = []
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)  # raises CellExecutionError on any failing cell
            if cell.cell_type != "code":
                continue
            found = [m for h in html_outputs(cell) for m in re.findall(r'<iframe src="(http://127\.0\.0\.1:\d+/)"', h)]
            for url in found:  # the IFrame's server answers now, from outside the kernel
                with urllib.request.urlopen(url, timeout=30) as r:
                    assert r.status == 200 and b"<html" in r.read().lower()
                with urllib.request.urlopen(url + "api/summary", timeout=30) as r:
                    assert "overall" in json.load(r)
            frames += found
        assert len(frames) == 1
        client.set_widgets_metadata()  # what nbclient's execute() saves at its end
        with pytest.raises(urllib.error.URLError):  # the last cells stopped it
            urllib.request.urlopen(frames[0] + "api/summary", timeout=5)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    htmls = [h for c in code for h in html_outputs(c)]
    report = [h for h in htmls if "camscope-report" in h]
    assert report and "data:image/png;base64," in report[0] and "top-1 accuracy" in report[0]
    outputs = [o for c in code for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "explorer answers: 200" in text
    def widgets(cell):
        return [o for o in cell.get("outputs", []) if "data" in o and "application/vnd.jupyter.widget-view+json" in o["data"]]

    analyze_cell = [c for c in code if "camscope.analyze(" in c.source][0]
    # its progress (the pass, CAM focus, faithfulness) shows before the report: bars or lines
    assert len([o for o in analyze_cell.outputs if "camscope-report" not in json.dumps(o)]) >= 1
    assert widgets([c for c in code if "camscope.widget(" in c.source][0])  # the server-free explorer
    # nbclient read every widget's state (its default comm handler): the widget explorer's dropdown
    # of the 10 classes is in the saved widget state
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(len(w["state"].get("_options_labels", ())) == 10 for w in state.values())
    art = os.environ.get("CAMSCOPE_ARTIFACTS")
    if art:
        os.makedirs(art, exist_ok=True)
        nbformat.write(nb, os.path.join(art, "analyze_in_notebook.executed.ipynb"))

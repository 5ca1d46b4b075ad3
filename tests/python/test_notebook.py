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
import sys
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


PLAYWRIGHT = os.path.join(ROOT, "tests", "browser", "node_modules", "playwright-core")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CLASSIC_UI = """
const [pw, chromiumPath, url] = process.argv.slice(1);
const { chromium } = await import(pw + "/index.mjs");
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox"] });
const out = {};
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel &&
                             Jupyter.notebook.kernel.is_connected(), null, { timeout: 120000 });
  await page.evaluate(() => Jupyter.notebook.execute_all_cells());
  await page.waitForSelector(".widget-area select", { timeout: 120000 });
  out.options = await page.$$eval(".widget-area select option", (o) => o.map((x) => x.textContent));
  await page.selectOption(".widget-area select", { index: 3 });
  await page.waitForFunction(() => [...document.querySelectorAll(".widget-area img")].some((i) => i.naturalWidth > 0),
                             null, { timeout: 120000 });
  out.captions = await page.$$eval(".widget-area .widget-html", (h) => h.map((x) => x.textContent));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
"""


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("node") is None or not os.path.isdir(PLAYWRIGHT) or not os.path.exists(CHROMIUM),
                    reason="node, tests/browser's playwright-core (npm ci --prefix tests/browser) or chromium missing")
def test_widget_explorer_in_the_classic_notebook(tmp_path):
    """The widgets that run headless still work in a live frontend: Debian's notebook 6.4 with its
    ipywidgets 6 extension, in headless chromium, shows the class dropdown and, for another class,
    its tiles (images and captions)."""
    pytest.importorskip("notebook")
    fix = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(ROOT, "tests", "fixtures"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "import camscope\n"
        f"m, d = camscope.Model({os.path.join(fix, 'tiny_cifar10_model.pt')!r}), "
        f"camscope.Dataset({os.path.join(fix, 'tiny_cifar10')!r})\n"
        "camscope.widget(camscope.analyze(m, d, progress=False))")]
    nbformat.write(nb, str(tmp_path / "w.ipynb"))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "notebook", "--no-browser", f"--port={port}", "--port-retries=0", "--ip=127.0.0.1",
         "--NotebookApp.token=", "--NotebookApp.password=", f"--notebook-dir={tmp_path}", "--allow-root"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE", JUPYTER_RUNTIME_DIR=str(tmp_path / "rt")))
    try:
        url = f"http://127.0.0.1:{port}/notebooks/w.ipynb"
        for _ in range(600):  # its first answer
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=5).read()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()[-3000:]
                import time
                time.sleep(0.1)
        r = subprocess.run(["node", "--input-type=module", "-e", CLASSIC_UI, os.path.abspath(PLAYWRIGHT), CHROMIUM, url],
                           capture_output=True, text=True, timeout=400)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        out = json.loads(r.stdout.strip().splitlines()[-1])
        assert [o.replace("\xa0", " ") for o in out["options"]][:4] == ["0: airplane", "1: automobile", "2: bird", "3: cat"]
        assert len(out["options"]) == 10
        assert any(c.startswith("true ") for c in out["captions"]), out["captions"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


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
    bars = [h for h in html_outputs(analyze_cell) if "<progress" in h]  # the pass, CAM focus, faithfulness
    assert len(bars) >= 3 and not widgets(analyze_cell)  # HTML bars updated in place, no widgets (_progress.py)
    assert widgets([c for c in code if "camscope.widget(" in c.source][0])  # the server-free explorer
    # nbclient read every widget's state (its default comm handler): the widget explorer's dropdown
    # of the 10 classes is in the saved widget state
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(len(w["state"].get("_options_labels", ())) == 10 for w in state.values())
    art = os.environ.get("CAMSCOPE_ARTIFACTS")
    if art:
        os.makedirs(art, exist_ok=True)
        nbformat.write(nb, os.path.join(art, "analyze_in_notebook.executed.ipynb"))

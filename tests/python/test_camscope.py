"""The Python package against the CLI on the same fixtures: predictions, CAM maps (cams.npy),
the analysis (summary.json), errors, Ctrl-C, the explorer, memory over repeated calls.

Run by CTest (python.api) with /usr/bin/python3 -m pytest; the environment names the built package
(PYTHONPATH=<build>/python), the CLI (CAMSCOPE_BINARY) and the fixtures (CAMSCOPE_FIXTURES_DIR)."""
import csv
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

import camscope

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
CLI = os.environ.get("CAMSCOPE_BINARY", "camscope")
MODEL = os.path.join(FIX, "tiny_cifar10_model.pt")
DATA = os.path.join(FIX, "tiny_cifar10")
FOLDER = os.path.join(FIX, "tiny_cifar10_folder")


def cli(*args):
    r = subprocess.run([CLI, "-q", *args], capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    return r


def cli_ok(*args):
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture
def model():
    """A freshly loaded model for each test, as each CLI run has: a model's first CAM batch at a
    layer runs the plain probe, later ones the split forward (engine.hpp); they agree to float32
    rounding, and eigen smoothing's SVD can take that to ~2e-6, over the 1e-6 compared here."""
    return camscope.Model(MODEL)


@pytest.fixture(scope="module")
def model_norm():
    """The model told the CIFAR-10 normalisation, which the CIFAR dataset implies (for arrays)."""
    return camscope.Model(MODEL, norm="cifar10")


@pytest.fixture(scope="module")
def data():
    return camscope.Dataset(DATA)


# ----------------------------------------------------------------------------- predict and cam


def test_predict_equals_cli(model, model_norm, data, tmp_path):
    out = tmp_path / "p.csv"
    cli_ok("predict", "-m", MODEL, "-d", DATA, "-o", str(out))
    rows = list(csv.DictReader(open(out)))
    p = model.predict(data, progress=False)
    assert len(p) == len(rows) == len(data)
    assert [int(r["pred"]) for r in rows] == p.pred.tolist()
    assert [int(r["label"]) for r in rows] == p.labels.tolist()
    np.testing.assert_allclose([float(r["confidence"]) for r in rows], p.confidence, atol=1e-6)
    # The same images as uint8 arrays give the same logits (the library's to_input either way).
    imgs = np.stack([data[i][0] for i in range(len(data))])
    q = model_norm.predict(imgs, progress=False)
    np.testing.assert_allclose(q.logits, p.logits, atol=1e-5)
    assert q.pred.tolist() == p.pred.tolist()


@pytest.mark.parametrize("target,method,layer", [("pred", "gradcam", None), ("true", "gradcampp", "layer2"),
                                                 ("3", "layercam", "layer3.1.conv2"), ("pred", "eigencam", None)])
def test_cam_equals_cli(model, data, tmp_path, target, method, layer):
    args = ["cam", "-m", MODEL, "-d", DATA, "-i", "0-11", "-t", target, "--method", method, "-o", str(tmp_path)]
    if layer:
        args += ["-l", layer]
    cli_ok(*args)
    want = np.load(tmp_path / "cams.npy")
    t = int(target) if target.isdigit() else target
    got = model.cam(data, t, method=method, layer=layer, indices=range(12), progress=False)
    assert got.shape == want.shape == (12, 32, 32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    assert got.max() > 0.99  # real maps, min-max scaled


def test_cam_arrays_uint8_and_float(model_norm, data, tmp_path):
    model = model_norm
    cli_ok("cam", "-m", MODEL, "-d", DATA, "-i", "0-7", "-o", str(tmp_path))
    want = np.load(tmp_path / "cams.npy")
    imgs = np.stack([data[i][0] for i in range(8)])  # uint8 N×H×W×C
    np.testing.assert_allclose(model.cam(imgs, progress=False), want, atol=1e-6, rtol=0)
    # float N×C×H×W, normalised here (CIFAR-10 preset) independently of the library.
    spec = model._spec(data=data)
    x = (np.transpose(imgs, (0, 3, 1, 2)).astype(np.float32) / 255.0
         - np.array(spec["mean"], np.float32)[None, :, None, None]) / np.array(spec["std"], np.float32)[None, :, None, None]
    np.testing.assert_allclose(model.cam(np.ascontiguousarray(x, np.float32), progress=False), want, atol=1e-5, rtol=0)
    # targets="true" on arrays needs labels, and then equals the CLI's -t true.
    labels = [data[i][1] for i in range(8)]
    cli_ok("cam", "-m", MODEL, "-d", DATA, "-i", "0-7", "-t", "true", "-o", str(tmp_path / "t"))
    np.testing.assert_allclose(model.cam(imgs, "true", labels=labels, progress=False),
                               np.load(tmp_path / "t" / "cams.npy"), atol=1e-6, rtol=0)


def test_layers_equal_cli(model, data):
    out = cli_ok("layers", MODEL, "-d", DATA).stdout.splitlines()[1:]
    got = model.layers(data)
    assert [l[0] for l in got] == [line.split()[0] for line in out]
    assert ("layer3", "Sequential", [1, 32, 8, 8]) in got
    # Without data: the size given (not kept for later calls), as `camscope layers --input-size --channels`.
    out = cli_ok("layers", MODEL, "--input-size", "64x64", "--channels", "3").stdout.splitlines()[1:]
    big = model.layers(input_size=(64, 64), channels=3)
    assert [(l[0], "x".join(map(str, l[2]))) for l in big] == [(x.split()[0], x.split()[2]) for x in out]
    assert model.layers(data) == got
    with pytest.raises(camscope.UsageError, match="input size is unknown"):
        model.layers()


def test_from_torch_equals_traced_file(model, data, tiny_resnet):
    import torch

    net = tiny_resnet
    imgs = np.stack([data[i][0] for i in range(10)])
    example = torch.zeros(1, 3, 32, 32)
    for script in (False, True):
        m = camscope.Model.from_torch(net, example, script=script, norm="cifar10")
        assert m.info["path"] == "<TinyResNet>"
        np.testing.assert_allclose(m.predict(imgs, progress=False).logits,
                                   model.predict(data, indices=range(10), progress=False).logits, atol=1e-5)
        np.testing.assert_allclose(m.cam(imgs, "true", labels=[data[i][1] for i in range(10)], progress=False),
                                   model.cam(data, "true", indices=range(10), progress=False), atol=1e-6, rtol=0)
    assert net.training  # from_torch left the module's mode as it was


# ----------------------------------------------------------------------------- datasets


def test_dataset_formats_and_arrays(data):
    folder = camscope.Dataset(FOLDER)
    assert folder.info["format"] == "folder" and data.info["format"] == "cifar10"
    img, label = data[0]
    assert img.dtype == np.uint8 and img.shape == (32, 32, 3) and 0 <= label < 10
    imgs = np.stack([data[i][0] for i in range(len(data))])
    labels = [data[i][1] for i in range(len(data))]
    arr = camscope.Dataset.from_arrays(imgs, labels, data.class_names)
    assert len(arr) == len(data)
    np.testing.assert_array_equal(arr[5][0], data[5][0])


def test_dataset_from_torchvision_style(data):
    from PIL import Image

    class Items:  # indexable, returning (PIL image, label), with .classes, as torchvision sets are
        classes = data.class_names

        def __len__(self):
            return len(data)

        def __getitem__(self, i):
            a, y = data[i]
            return Image.fromarray(a), y

    tv = camscope.Dataset(Items())
    assert tv.class_names == data.class_names and len(tv) == len(data)
    np.testing.assert_array_equal(tv[3][0], data[3][0])


# ----------------------------------------------------------------------------- analyze


def test_analyze_equals_cli(data, tmp_path):
    # A fresh model, as the CLI's: a model's first CAM batch at a layer runs the plain probe, later
    # ones the split forward (engine.hpp), which agree to float32 rounding, not bit for bit.
    model = camscope.Model(MODEL)
    cli_out = tmp_path / "cli"
    cli_ok("analyze", "-m", MODEL, "-d", DATA, "-o", str(cli_out), "--faithfulness-n", "6")
    want = json.load(open(cli_out / "summary.json"))
    rep = camscope.analyze(model, data, out=tmp_path / "py", faithfulness_n=6, progress=False)
    got = rep.summary
    assert set(got) == set(want)
    for key in want:
        if key in ("identity", "files"):  # files: the CLI's list; identity: compared below
            continue
        if key == "faithfulness" and want[key] is not None:  # the same figures; its time differs
            got[key].pop("seconds"), want[key].pop("seconds")
        if key == "run":  # the same run; its times differ
            got[key].pop("timings_s"), want[key].pop("timings_s")
        assert got[key] == want[key], key
    assert got["identity"]["model"]["sha256"] == want["identity"]["model"]["sha256"]
    assert got["identity"]["dataset"]["fingerprint"] == want["identity"]["dataset"]["fingerprint"]
    assert rep.accuracy == want["overall"]["top1"]
    with open(cli_out / "confusion_matrix.csv") as f:
        rows = [r for r in csv.reader(f)][1:]
    cm = np.array([[int(v) for v in r[1:]] for r in rows])
    np.testing.assert_array_equal(rep.confusion, cm)
    assert rep.confusion.sum() == len(data)
    assert {os.path.basename(f) for f in rep.files} >= {"summary.json", "index.html", "confusion_matrix.csv"}
    html = rep._repr_html_()
    assert "data:image/png;base64," in html and f"{100 * rep.accuracy:.2f} %" in html
    figs = rep.figures()
    assert all(b[:8] == b"\x89PNG\r\n\x1a\n" for b in figs.values())
    # In memory only (no out): the same figures.
    mem = camscope.analyze(camscope.Model(MODEL), data, faithfulness_n=6, progress=False)
    assert mem.files == [] and mem.summary["overall"] == want["overall"]
    assert mem.summary["calibration"] == want["calibration"]


def test_interrupt_leaves_nothing(model, data, tmp_path, monkeypatch):
    """Ctrl-C (SIGINT) while the report's galleries are drawn: KeyboardInterrupt, no report folder
    and no staging folder left; an earlier report stays intact."""
    out = tmp_path / "rep"
    first = camscope.analyze(model, data, out=out, faithfulness_n=0, progress=False)
    before = open(out / "summary.json").read()
    from camscope import _progress

    def interrupt(label, done, total, final, *seconds):
        if label == "class galleries" and not final:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(_progress, "event", interrupt)
    camscope._c._set_progress_callback(lambda *a: _progress.event(*a))
    try:
        rep = camscope.analyze(model, data, faithfulness_n=0, progress=True)
        with pytest.raises(KeyboardInterrupt):
            rep.write(out)
        with pytest.raises(KeyboardInterrupt):
            rep.write(tmp_path / "new")
    finally:
        camscope._c._set_progress_callback(_progress.event)
    assert not (tmp_path / "new").exists()
    assert sorted(os.listdir(tmp_path)) == ["rep"]  # no staging folder beside it
    assert open(out / "summary.json").read() == before and first.out == str(out)


# ----------------------------------------------------------------------------- errors


def test_errors_are_the_clis(tmp_path, model, data):
    missing = str(tmp_path / "missing.pt")
    with pytest.raises(camscope.Error) as e:
        camscope.Model(missing)
    r = cli("layers", missing, "-d", DATA)
    assert r.returncode == 1 and f"camscope: error: {e.value}" == r.stderr.strip()
    with pytest.raises(camscope.Error, match="not a TorchScript model"):
        camscope.Model(os.path.join(FIX, "not_a_model.pt"))
    with pytest.raises(camscope.Error, match="no-such-dir"):
        camscope.Dataset(str(tmp_path / "no-such-dir"))
    with pytest.raises(camscope.UsageError) as e:
        model.cam(data, method="nosuchcam", indices=[0], progress=False)
    r = cli("cam", "-m", MODEL, "-d", DATA, "-i", "0", "--method", "nosuchcam", "-o", str(tmp_path / "c"))
    assert r.returncode == 2 and r.stderr.strip() == f"camscope: {e.value}"
    with pytest.raises(camscope.UsageError) as e:
        model.cam(data, layer="layer9", indices=[0], progress=False)
    r = cli("cam", "-m", MODEL, "-d", DATA, "-i", "0", "-l", "layer9", "-o", str(tmp_path / "c"))
    # the same message, pointing to Model.layers() where the CLI's points to its layers command
    assert r.returncode == 2 and r.stderr.strip().replace("`camscope layers MODEL`", "Model.layers()") == \
        f"camscope: {e.value}"
    with pytest.raises(camscope.UsageError, match="unknown class 'zebra'"):
        model.cam(data, "zebra", indices=[0], progress=False)
    with pytest.raises(camscope.UsageError, match="N×C×H×W"):
        model.cam(np.zeros((2, 32, 32), np.float32), progress=False)
    with pytest.raises(camscope.Error, match="1x1x32x32 input.*to have 3 channels"):  # the model says what it expects
        model.cam(np.zeros((2, 1, 32, 32), np.float32), progress=False)
    with pytest.raises(camscope.UsageError, match="uint8"):
        model.predict(np.zeros((2, 32, 32, 3), np.int16), progress=False)
    with pytest.raises(camscope.UsageError, match="2 targets for 3 images"):
        model.cam(np.zeros((3, 32, 32, 3), np.uint8), [0, 1], progress=False)
    with pytest.raises(camscope.UsageError, match="batch_size"):
        model.predict(data, batch_size=0)
    with pytest.raises(camscope.UsageError, match="labels"):
        camscope.Dataset.from_arrays(np.zeros((2, 8, 8, 3), np.uint8), [0], ["a", "b"])
    with pytest.raises(camscope.UsageError, match="unknown option 'wrost'"):
        camscope.analyze(model, data, wrost=3, progress=False)
    assert issubclass(camscope.UsageError, camscope.Error)


# ----------------------------------------------------------------------------- explorer


def test_explorer_serves_and_stops(model, data):
    rep = camscope.analyze(model, data, faithfulness_n=0, progress=False)
    ex = camscope.explore(rep)
    try:
        assert ex.url.startswith("http://127.0.0.1:") and ex.running
        with urllib.request.urlopen(ex.url + "api/summary", timeout=30) as r:
            assert r.status == 200
            summary = json.load(r)
        assert summary["overall"]["top1"] == rep.accuracy
        with urllib.request.urlopen(ex.url + f"api/cam?image=0&target=3&method=gradcam&format=json", timeout=30) as r:
            assert r.status == 200
        assert f'src="{ex.url}"' in ex._repr_html_()
    finally:
        ex.stop()
    assert not ex.running
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(ex.url + "api/summary", timeout=5)


def test_explorer_may_be_framed_by_the_notebook_only(model, data):
    """`camscope serve` forbids framing; the notebook's explorer allows this machine's notebook pages
    (Jupyter on localhost, VS Code) and no other site, and refuses other sites' API requests."""
    rep = camscope.analyze(model, data, faithfulness_n=0, progress=False)
    ex = camscope.explore(rep)
    try:
        with urllib.request.urlopen(ex.url, timeout=30) as r:
            csp = r.headers["Content-Security-Policy"]
            assert r.headers["X-Frame-Options"] is None
        assert csp.startswith("frame-ancestors ") and "http://localhost:*" in csp and "http://127.0.0.1:*" in csp
        assert "*" not in csp.replace(":*", "")  # no wildcard origin
        req = urllib.request.Request(ex.url + "api/summary", headers={"Sec-Fetch-Site": "cross-site"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=30)
        assert refused.value.code == 403
    finally:
        ex.stop()
    closed = camscope.explore(rep, frame_ancestors="'none'")
    try:
        with urllib.request.urlopen(closed.url, timeout=30) as r:
            assert r.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
            assert r.headers["X-Frame-Options"] == "DENY"
    finally:
        closed.stop()
    with pytest.raises(camscope.UsageError, match="frame_ancestors"):
        camscope.explore(rep, frame_ancestors="'self'; script-src *")


# ----------------------------------------------------------------------------- memory


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_repeated_cam_calls_do_not_grow(model, data):
    imgs = np.stack([data[i][0] for i in range(4)])
    for _ in range(100):  # warm-up: allocator pools, the probe graph, the first results
        model.cam(imgs, progress=False)
    start = rss_kib()
    for _ in range(1000):
        maps = model.cam(imgs, progress=False)
    grown = rss_kib() - start
    assert maps.shape == (4, 32, 32)
    # 1,000 calls return 16 MB of maps in all; a leak of one map per call would add 4 MB.
    assert grown < 3 * 1024, f"RSS grew by {grown} KiB over 1,000 cam calls"


def test_widget_shows_the_clis_overlays(model, data, tmp_path):
    """The server-free widget: for the class chosen, its errors with the CAMs of the predicted and
    the true class; each tile's PNG is the CLI's overlay of that image (camscope cam)."""
    rep = camscope.analyze(model, data, faithfulness_n=0, progress=False)
    ui = camscope.widget(rep, per_class=3)
    cls, kind = ui.children[0].children
    worst = rep.summary["worst_classes"][0]
    cls.value = worst
    lines = ui.children[1].children
    rows = rep._r.rows()
    errors = (rows["label"] == worst) & (rows["pred"] != worst)
    assert len(lines) == min(3, int(errors.sum())) > 0
    first = int(rows["index"][errors][np.argsort(-rows["confidence"][errors], kind="stable")][0])
    cli_ok("cam", "-m", MODEL, "-d", DATA, "-i", str(first), "-t", "pred", "-t", "true", "-o", str(tmp_path))
    pngs = sorted(p for p in os.listdir(tmp_path) if p.endswith(".png"))
    pred_png = [p for p in pngs if p.startswith(f"cam_{first}_pred_")][0]
    true_png = [p for p in pngs if p.startswith(f"cam_{first}_true_")][0]
    tiles = lines[0].children
    assert tiles[0].children[0].value == open(tmp_path / pred_png, "rb").read()
    assert tiles[1].children[0].value == open(tmp_path / true_png, "rb").read()
    kind.value = "correct"
    assert all(len(line.children) == 2 for line in ui.children[1].children)


def test_annotations_and_docstrings_cover_the_api():
    """The API is typed inline (py.typed, no stub to drift from the code): every public function,
    method and property annotates each parameter and its return, and the annotations resolve; every
    public attribute a class sets on ``self`` is declared on the class with its type; each public
    name and member has a docstring."""
    import ast
    import inspect
    import textwrap
    import typing

    assert os.path.exists(os.path.join(os.path.dirname(camscope.__file__), "py.typed"))

    def annotated(f, where):
        hints = typing.get_type_hints(f, localns=vars(camscope))  # a name that does not resolve raises
        for p in inspect.signature(f).parameters.values():
            assert p.name in ("self", "cls") or p.name in hints, f"{where}: parameter {p.name} has no annotation"
        assert "return" in hints, f"{where}: no return annotation"

    assert issubclass(camscope.UsageError, camscope.Error) and issubclass(camscope.UsageError, ValueError)
    for name in camscope.__all__:
        obj = getattr(camscope, name)
        if name in ("Error", "UsageError"):
            continue
        assert inspect.getdoc(obj), name
        if not inspect.isclass(obj):
            annotated(obj, name)
            continue
        public = {m for m in vars(obj) if not m.startswith("_")}
        for m in public | ({"__init__", "__len__", "__getitem__"} & set(vars(obj))):
            member = vars(obj)[m]
            f = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            annotated(f, f"{name}.{m}")
            if m in public:
                assert inspect.getdoc(f), f"{name}.{m} has no docstring"
        declared = typing.get_type_hints(obj)
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
        assigned = {t.attr for n in ast.walk(tree) if isinstance(n, ast.Assign)
                    for t in ast.walk(ast.Tuple(elts=n.targets, ctx=ast.Store()))
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}
        undeclared = {a for a in assigned if not a.startswith("_")} - set(declared)
        assert not undeclared, (name, undeclared)


def test_explorer_ends_with_the_interpreter(tmp_path):
    """A Python (a kernel) that exits with the explorer running stops it and exits cleanly."""
    code = ("import camscope, urllib.request\n"
            f"rep = camscope.analyze({MODEL!r}, {DATA!r}, faithfulness_n=0, progress=False)\n"
            "e = camscope.explore(rep)\n"
            "print(urllib.request.urlopen(e.url + 'api/summary', timeout=30).status, flush=True)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "200"


def test_dataset_from_a_torchvision_dataset(model_norm):
    """A real torchvision dataset (FakeData: PIL images), as PIL and through ToTensor (float C×H×W)."""
    tv = pytest.importorskip("torchvision")
    pil = tv.datasets.FakeData(size=12, image_size=(3, 32, 32), num_classes=10, random_offset=3)
    ten = tv.datasets.FakeData(size=12, image_size=(3, 32, 32), num_classes=10, random_offset=3,
                               transform=tv.transforms.ToTensor())
    a, b = camscope.Dataset(pil), camscope.Dataset(ten)
    assert len(a) == len(b) == 12 and a.class_names == b.class_names
    for i in range(12):
        np.testing.assert_array_equal(a[i][0], np.asarray(pil[i][0]))
        np.testing.assert_array_equal(b[i][0], a[i][0])
        assert a[i][1] == int(pil[i][1])
    p = model_norm.predict(a, progress=False)
    q = model_norm.predict(np.stack([np.asarray(pil[i][0]) for i in range(12)]), progress=False)
    np.testing.assert_allclose(p.logits, q.logits, atol=1e-5)


@pytest.mark.parametrize("extra,kw", [(["--raw"], dict(raw=True)),
                                      (["--method", "finercam", "--contrast", "true"], dict(method="finercam", contrast=["true"])),
                                      (["--eigen-smooth", "-l", "layer2"], dict(eigen_smooth=True, layer="layer2")),
                                      (["--method", "scorecam", "--max-channels", "4"], dict(method="scorecam", max_channels=4))])
def test_cam_options_equal_cli(model, data, tmp_path, extra, kw):
    cli_ok("cam", "-m", MODEL, "-d", DATA, "-i", "20-25", "-o", str(tmp_path), *extra)
    got = model.cam(data, indices=range(20, 26), progress=False, **kw)
    np.testing.assert_allclose(got, np.load(tmp_path / "cams.npy"), atol=1e-6, rtol=0)


def test_analyze_store_equals_clis(data, tmp_path):
    """analyze(store=True) and `camscope analyze` run the same library function: the same store/
    (every .npy byte for byte; manifest.json equal but for "seconds", the pass's wall-clock time),
    and the chunks kept in <out>.partial/ until the report is written, as the CLI's."""
    opts = ["-b", "16", "--faithfulness-n", "6", "--chunk", "48"]
    cli_out = tmp_path / "cli"
    cli_ok("analyze", "-m", MODEL, "-d", DATA, "-o", str(cli_out), *opts)
    py_out = tmp_path / "py"
    rep = camscope.analyze(camscope.Model(MODEL), data, out=py_out, store=True, batch_size=16, faithfulness_n=6,
                           chunk=48, progress=False)
    a, b = cli_out / "store", py_out / "store"
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(b)) == sorted(["manifest.json", "index.npy", "label.npy", "pred.npy", "logits.npy",
                                                      "cam_pred.npy", "cam_true.npy", "degenerate.npy"])
    for n in names:
        if n.endswith(".npy"):
            assert open(a / n, "rb").read() == open(b / n, "rb").read(), n
    ma, mb = json.load(open(a / "manifest.json")), json.load(open(b / "manifest.json"))
    assert ma.pop("seconds") > 0 and mb.pop("seconds") > 0
    assert ma == mb
    assert mb["rows"] == {"begin": 0, "end": len(data)} and mb["data_flags"] == {"split": "test", "format": ""}
    assert not os.path.exists(str(py_out) + ".partial") and not os.path.exists(str(cli_out) + ".partial")
    assert str(b / "manifest.json") in rep.files
    # The numbers are the arrays': NumPy's accuracy from the store is the report's.
    pred, label = np.load(b / "pred.npy"), np.load(b / "label.npy")
    assert rep.accuracy == pytest.approx((pred == label).mean(), abs=1e-12)
    # Without store: no store/ (as before); in memory, the same chunks give the same report.
    mem = camscope.analyze(camscope.Model(MODEL), data, batch_size=16, faithfulness_n=6, chunk=48, progress=False)
    assert mem.summary["overall"] == rep.summary["overall"] and mem.summary["per_class"] == rep.summary["per_class"]
    with pytest.raises(camscope.UsageError, match="resume"):
        camscope.analyze(camscope.Model(MODEL), data, resume=True, progress=False)


def test_analyze_resumes_from_the_clis_chunks(data, tmp_path):
    """A CLI run killed after its second chunk (CAMSCOPE_TEST_KILL_AFTER_CHUNK) is finished by
    analyze(resume=True): the chunks are the same stores to both, and the report is the
    uninterrupted CLI run's."""
    opts = ["-b", "16", "--faithfulness-n", "0", "--chunk", "48"]
    full = tmp_path / "full"
    cli_ok("analyze", "-m", MODEL, "-d", DATA, "-o", str(full), *opts)
    out = tmp_path / "rep"
    r = subprocess.run([CLI, "-q", "analyze", "-m", MODEL, "-d", DATA, "-o", str(out), *opts], capture_output=True,
                       text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE", CAMSCOPE_TEST_KILL_AFTER_CHUNK="1"))
    assert r.returncode == -signal.SIGKILL
    partial = str(out) + ".partial"
    assert sorted(os.listdir(partial)) == ["chunk-000000", "chunk-000001"]
    rep = camscope.analyze(camscope.Model(MODEL), data, out=out, store=True, resume=True, batch_size=16,
                           faithfulness_n=0, chunk=48, progress=False)
    assert not os.path.exists(partial)
    for n in ("logits.npy", "cam_pred.npy", "cam_true.npy", "degenerate.npy"):
        assert open(out / "store" / n, "rb").read() == open(full / "store" / n, "rb").read(), n
    want = json.load(open(full / "summary.json"))
    assert rep.summary["overall"] == want["overall"] and rep.summary["focus"] == want["focus"]


def test_analyze_shard_equals_clis(data, tmp_path):
    """analyze_shard((k, n)) writes the store `camscope analyze --shard k/n` writes (every .npy byte for
    byte; the manifest but for "seconds"), and `camscope merge` takes it with the CLI's other shards."""
    common = ["-b", "16", "--faithfulness-n", "0"]
    for k in (0, 2):
        cli_ok("analyze", "-m", MODEL, "-d", DATA, *common, "--shard", f"{k}/3", "-o", str(tmp_path / f"s{k}"))
    cli_ok("analyze", "-m", MODEL, "-d", DATA, *common, "--shard", "1/3", "-o", str(tmp_path / "cli1"))
    m = camscope.analyze_shard(camscope.Model(MODEL), data, tmp_path / "s1", (1, 3), batch_size=16, progress=False)
    assert m["rows"] == {"begin": 80, "end": 144} and m["shard"] == {"k": 1, "n": 3}
    a, b = tmp_path / "cli1", tmp_path / "s1"
    assert sorted(os.listdir(a)) == sorted(os.listdir(b))
    for n in os.listdir(a):
        if n.endswith(".npy"):
            assert open(a / n, "rb").read() == open(b / n, "rb").read(), n
    ma = json.load(open(a / "manifest.json"))
    ma.pop("seconds"), m.pop("seconds")
    assert ma == m
    assert not os.path.exists(str(b) + ".partial")
    cli_ok("merge", str(tmp_path / "s0"), str(b), str(tmp_path / "s2"), "--faithfulness-n", "0", "-o", str(tmp_path / "rep"))
    single = tmp_path / "single"
    cli_ok("analyze", "-m", MODEL, "-d", DATA, *common, "-o", str(single))
    for n in ("logits.npy", "cam_pred.npy", "cam_true.npy"):
        assert open(tmp_path / "rep" / "store" / n, "rb").read() == open(single / "store" / n, "rb").read(), n
    with pytest.raises(camscope.UsageError, match="shard 3/3"):
        camscope.analyze_shard(camscope.Model(MODEL), data, tmp_path / "bad", (3, 3), progress=False)

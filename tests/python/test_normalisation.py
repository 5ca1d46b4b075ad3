"""One input-preparation rule for every source (data/input_spec.hpp; camscope issue 23, "Normalisation").

The same 30 images (tests/fixtures/tiny_cifar10_folder) give the same predictions and CAMs, and a
stated normalisation, from the CLI on the folder, from Python on the folder, as arrays, and as a
torchvision dataset whose transform is ToTensor() + Normalize(CIFAR-10): before, the last one was
multiplied by 255, clipped and normalised again. The model is tiny_cifar10_model.pt (a TorchScript
without camscope metadata, trained on CIFAR-10-normalised input).

Both torchvision's ImageFolder (skipped where python3-torchvision is not installed) and a
torchvision-style stand-in with the same interface (``dataset[i] -> (tensor, label)`` after
``dataset.transform``, a ``Compose`` holding ``ToTensor`` and ``Normalize`` objects with
``mean``/``std``) made of torch operations are checked.
"""
import csv
import os
import subprocess

import numpy as np
import pytest

import camscope

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
CLI = os.environ.get("CAMSCOPE_BINARY", "camscope")
MODEL = os.path.join(FIX, "tiny_cifar10_model.pt")
DATA = os.path.join(FIX, "tiny_cifar10")
FOLDER = os.path.join(FIX, "tiny_cifar10_folder")
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # the CIFAR-10 preset, written out
TRANSFORM = "already normalised by the torchvision transform (Normalize)"


def cli_ok(*args):
    r = subprocess.run([CLI, "-q", *args], capture_output=True, text=True,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    assert r.returncode == 0, r.stderr
    return r


def torchvision_style_folder(kind):
    """The folder as a torchvision dataset of C×H×W float tensors, ToTensor() then Normalize(MEAN, STD):
    torchvision's own (kind "torchvision") or the stand-in ("stand-in")."""
    import torch
    if kind == "torchvision":
        tv = pytest.importorskip("torchvision")
        t = tv.transforms
        return tv.datasets.ImageFolder(FOLDER, transform=t.Compose([t.ToTensor(), t.Normalize(MEAN, STD)]))
    from PIL import Image

    class ToTensor:
        def __call__(self, pil):
            a = np.array(pil.convert("RGB"), np.uint8)  # a writable copy for torch
            return torch.from_numpy(a).permute(2, 0, 1).float().div(255)

    class Normalize:
        def __init__(self, mean, std):
            self.mean, self.std = list(mean), list(std)

        def __call__(self, x):
            return (x - torch.tensor(self.mean)[:, None, None]) / torch.tensor(self.std)[:, None, None]

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, x):
            for f in self.transforms:
                x = f(x)
            return x

    class ImageFolder:
        def __init__(self, root, transform):
            self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
            self.samples = [(os.path.join(root, c, f), k) for k, c in enumerate(self.classes)
                            for f in sorted(os.listdir(os.path.join(root, c)))]
            self.transform = transform

        def __len__(self):
            return len(self.samples)

        def __getitem__(self, i):
            path, y = self.samples[i]
            return self.transform(Image.open(path)), y

    return ImageFolder(FOLDER, Compose([ToTensor(), Normalize(MEAN, STD)]))


@pytest.fixture(scope="module")
def folder():
    return camscope.Dataset(FOLDER)


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """The CLI on the folder told the CIFAR-10 preset: predictions and the gradcam maps of the prediction."""
    out = tmp_path_factory.mktemp("cli")
    cli_ok("predict", "-m", MODEL, "-d", FOLDER, "--norm", "cifar10", "-o", str(out / "p.csv"))
    rows = list(csv.DictReader(open(out / "p.csv")))
    cli_ok("cam", "-m", MODEL, "-d", FOLDER, "--norm", "cifar10", "-i", "0-29", "-o", str(out / "cam"))
    return [int(r["pred"]) for r in rows], [float(r["confidence"]) for r in rows], np.load(out / "cam" / "cams.npy")


def check_same(model, data, cli_results):
    preds, conf, maps = cli_results
    p = model.predict(data, progress=False)
    assert p.pred.tolist() == preds
    np.testing.assert_allclose(p.confidence, conf, atol=1e-6)
    got = model.cam(data, "pred", indices=range(len(data)), progress=False)
    assert got.shape == maps.shape == (30, 32, 32)
    np.testing.assert_allclose(got, maps, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", ["torchvision", "stand-in"])
def test_folder_arrays_torchvision_and_cli_agree(folder, cli_results, kind):
    assert len(folder) == 30
    # Python on the folder: the user's preset, stated.
    m = camscope.Model(MODEL, norm="cifar10")
    assert m.input_spec(folder)["normalisation"] == "user norm preset cifar10"
    check_same(m, folder, cli_results)

    # Arrays of the same images: the same rule, the same numbers.
    imgs = np.stack([folder[i][0] for i in range(len(folder))])
    arrays = camscope.Dataset.from_arrays(imgs, [folder[i][1] for i in range(len(folder))], folder.class_names)
    check_same(m, arrays, cli_results)
    np.testing.assert_allclose(m.predict(imgs, progress=False).logits, m.predict(folder, progress=False).logits,
                               atol=1e-6)

    # The torchvision dataset normalised by its transform: taken as it is, with no norm given to
    # the model, and stated so. (Before: x255, clipped, and normalised a second time.)
    tvset = torchvision_style_folder(kind)
    tv = camscope.Dataset.from_torchvision(tvset)
    for i in range(len(folder)):
        np.testing.assert_array_equal(tv[i][0], folder[i][0])  # the pixels recovered exactly
        assert tv[i][1] == folder[i][1]
    plain = camscope.Model(MODEL)
    spec = plain.input_spec(tv)
    assert spec["normalisation"] == TRANSFORM
    np.testing.assert_allclose(spec["mean"], MEAN, rtol=1e-6)
    np.testing.assert_allclose(spec["std"], STD, rtol=1e-6)
    check_same(plain, tv, cli_results)
    # The model sees what the transform gave: logits equal to feeding its tensors directly.
    import torch
    x = torch.stack([tvset[i][0] for i in range(len(tvset))]).numpy()
    np.testing.assert_allclose(plain.predict(np.ascontiguousarray(x, np.float32), progress=False).logits,
                               plain.predict(tv, progress=False).logits, atol=1e-6)
    # The same numbers given again are accepted; other numbers would normalise twice: refused.
    check_same(m, tv, cli_results)
    with pytest.raises(camscope.UsageError, match="already normalised by the torchvision transform"):
        camscope.Model(MODEL, norm="imagenet").predict(tv, progress=False)


def test_each_source_states_its_normalisation(folder):
    data = camscope.Dataset(DATA)
    plain = camscope.Model(MODEL)
    # A dataset file's preset, for a model file without metadata (the CLI's rule), and why.
    assert plain.input_spec(data)["normalisation"] == "dataset preset cifar10 (the CIFAR-10 binary format)"
    np.testing.assert_allclose(plain.input_spec(data)["mean"], MEAN, rtol=1e-6)
    # A folder or arrays not named after a preset, arrays named after one: none, said so.
    for d in (folder, camscope.Dataset.from_arrays(np.zeros((2, 32, 32, 3), np.uint8), [0, 1], folder.class_names,
                                                   name="cifar10")):
        s = plain.input_spec(d)
        assert s["normalisation"] == "none (pixels scaled to [0, 1])"
        assert s["mean"] == [0, 0, 0] and s["std"] == [1, 1, 1]
    # The user's mean/std.
    assert camscope.Model(MODEL, mean=[0.5] * 3, std=[0.25] * 3).input_spec(data)["normalisation"] == "user mean/std"
    # A camscope checkpoint: its metadata.
    named = camscope.Model(os.path.join(FIX, "tiny_cifar10_named_model.pt"))
    assert named.input_spec(folder)["normalisation"] == "model metadata"


def test_module_from_python_gets_no_dataset_preset_and_reports_say_which(folder, tmp_path, tiny_resnet):
    """Model.from_torch: the module's preprocessing is the caller's; a CIFAR-10 file does not
    normalise its input behind its back (before: the preset by dataset name). The analysis states it."""
    import torch

    data = camscope.Dataset(DATA, limit=24)
    net = tiny_resnet
    live = camscope.Model.from_torch(net, torch.zeros(1, 3, 32, 32))
    s = live.input_spec(data)
    assert s["normalisation"].startswith("none (a module from Python gets no dataset preset")
    assert s["mean"] == [0, 0, 0] and s["std"] == [1, 1, 1]
    # Told the preset, it predicts as the file does with the dataset's preset.
    told = camscope.Model.from_torch(net, torch.zeros(1, 3, 32, 32), norm="cifar10")
    np.testing.assert_allclose(told.predict(data, progress=False).logits,
                               camscope.Model(MODEL).predict(data, progress=False).logits, atol=1e-5)
    # Every report states it: the identity in summary.json and the text summary.
    rep = camscope.analyze(live, data, faithfulness_n=0, progress=False)
    assert rep.summary["identity"]["input"]["normalisation"] == s["normalisation"]
    line = [l for l in rep.text().splitlines() if l.strip().startswith("input normalisation")]
    assert len(line) == 1 and line[0].split(None, 2)[2] == s["normalisation"]
    out = tmp_path / "cli"
    cli_ok("analyze", "-m", MODEL, "-d", DATA, "--limit", "24", "--faithfulness-n", "0", "-o", str(out))
    import json
    summary = json.load(open(out / "summary.json"))
    assert summary["identity"]["input"]["normalisation"] == "dataset preset cifar10 (the CIFAR-10 binary format)"
    # ... and the HTML report's header, which a reader opens first.
    html = (out / "index.html").read_text()
    assert ('<p id="normalisation">Input normalisation: dataset preset cifar10 (the CIFAR-10 binary format).</p>'
            in html)


def test_float_tensors_that_camscope_cannot_undo_are_refused():
    import torch

    class Items:  # a transform that normalises without a torchvision Normalize camscope can read
        classes = ["a", "b"]

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return (torch.full((3, 8, 8), 0.1 * i) - 0.45) / 0.22, i

    with pytest.raises(camscope.UsageError, match="cannot read"):
        camscope.Dataset.from_torchvision(Items())

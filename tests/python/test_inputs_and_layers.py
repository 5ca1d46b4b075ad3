"""Issue 24 items 5-8: one image / a PIL image / a list / tensors given to Model.predict and
Model.cam (the same numbers as the equivalent batch array), DataLoaders and other iterables of
(images, labels) batches as datasets (the same report as the Dataset of the same images), layers
with their layouts and the automatic choice, layer= as a module, layout=/grid=, the threads
default, and errors that name Python arguments (never the CLI's flags).

Run by CTest (python.inputs_and_layers) with /usr/bin/python3 -m pytest, as test_camscope.py."""
import os
import subprocess
import threading

import numpy as np
import pytest
import torch
from PIL import Image

import camscope

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
CLI = os.environ.get("CAMSCOPE_BINARY", "camscope")
MODEL = os.path.join(FIX, "tiny_cifar10_model.pt")
DATA = os.path.join(FIX, "tiny_cifar10")
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


@pytest.fixture(scope="module")
def data():
    return camscope.Dataset(DATA)


@pytest.fixture(scope="module")
def imgs(data):
    return np.stack([data[i][0] for i in range(len(data))])


@pytest.fixture(scope="module")
def labels(data):
    return np.array([data[i][1] for i in range(len(data))])


def no_flags(msg):
    """A message from Python names Python arguments: no CLI flag (--x) in it."""
    assert "--" not in msg, msg
    return msg


def to_tensor(a):
    """What torchvision's ToTensor gives for a uint8 H×W×C array: float C×H×W, p/255."""
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float().div(255)


# ----------------------------------------------------------------------------- one image, PIL, lists, tensors


def test_one_image_in_every_form_equals_the_batch_of_one(imgs):
    """An H×W×3 array, a PIL image, a ToTensor tensor and a uint8 C×H×W tensor are one image: the
    predictions and maps (1×H×W) of the batch x[:1], bit for bit (fresh models: a model's first
    CAM batch takes the probe path, engine.hpp)."""
    a = imgs[0]
    want_p = camscope.Model(MODEL).predict(imgs[:1], progress=False)
    want_m = camscope.Model(MODEL).cam(imgs[:1], progress=False)
    assert want_m.shape == (1, 32, 32)
    for form in (a, Image.fromarray(a), to_tensor(a), torch.from_numpy(a.transpose(2, 0, 1).copy())):
        p = camscope.Model(MODEL).predict(form, progress=False)
        np.testing.assert_array_equal(p.logits, want_p.logits)
        assert len(p) == 1 and p.pred[0] == want_p.pred[0]
        maps = camscope.Model(MODEL).cam(form, progress=False)
        assert maps.shape == (1, 32, 32)
        np.testing.assert_array_equal(maps, want_m)


def test_lists_and_tensor_batches_equal_the_batch_array(imgs, labels):
    n = 5
    x = imgs[:n]
    want_p = camscope.Model(MODEL).predict(x, progress=False)
    want_m = camscope.Model(MODEL).cam(x, "true", labels=labels[:n], progress=False)
    forms = {
        "list of PIL": [Image.fromarray(a) for a in x],
        "list of arrays": list(x),
        "tuple of ToTensor tensors": tuple(to_tensor(a) for a in x),
        "uint8 N×C×H×W tensor": torch.from_numpy(x.transpose(0, 3, 1, 2).copy()),
    }
    for what, form in forms.items():
        p = camscope.Model(MODEL).predict(form, progress=False)
        np.testing.assert_array_equal(p.logits, want_p.logits, err_msg=what)
        m = camscope.Model(MODEL).cam(form, "true", labels=labels[:n], progress=False)
        np.testing.assert_array_equal(m, want_m, err_msg=what)
    # A float N×C×H×W tensor is already normalised (as a float array is): the same as its NumPy array.
    mean = np.array(CIFAR_MEAN, np.float32)[:, None, None]
    std = np.array(CIFAR_STD, np.float32)[:, None, None]
    f = ((x.transpose(0, 3, 1, 2) / np.float32(255)) - mean) / std
    f = np.ascontiguousarray(f, dtype=np.float32)
    np.testing.assert_array_equal(camscope.Model(MODEL).predict(torch.from_numpy(f), progress=False).logits,
                                  camscope.Model(MODEL).predict(f, progress=False).logits)
    t = torch.from_numpy(f).requires_grad_(True)  # a tensor that needs grad is read without complaint
    np.testing.assert_array_equal(camscope.Model(MODEL).cam(t, progress=False), camscope.Model(MODEL).cam(f, progress=False))


def grey_model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
    return camscope.Model.from_torch(net, torch.zeros(1, 1, 32, 32))


def test_grey_image_is_one_image(imgs):
    """A 2-D uint8 array is one grey image (the batch of one N×H×W), an H×W×1 array and an "L"
    PIL image too; an N×H×W array whose last axis is not 1..4 stays N grey images."""
    g = imgs[0, :, :, 0]
    m = grey_model()
    want = m.predict(g[None], progress=False).logits
    assert want.shape == (1, 3)
    for form in (g, g[:, :, None], Image.fromarray(g)):
        np.testing.assert_array_equal(m.predict(form, progress=False).logits, want)
        assert m.input_spec(form)["channels"] == 1
    np.testing.assert_array_equal(m.predict(imgs[:3, :, :, 0], progress=False).logits,
                                  np.concatenate([m.predict(imgs[i, :, :, 0], progress=False).logits for i in range(3)]))


def test_ambiguous_and_wrong_images_say_how_to_pass_them(imgs):
    m = camscope.Model(MODEL)
    rgba = np.concatenate([imgs[0], np.full((32, 32, 1), 255, np.uint8)], axis=2)
    with pytest.raises(camscope.UsageError, match=r"ambiguous.*images\[\.\.\., :3\].*images\[\.\.\., None\]") as e:
        m.predict(rgba, progress=False)
    no_flags(str(e.value))
    with pytest.raises(camscope.UsageError, match=r"float array must be N×C×H×W.*images\[None\]") as e:
        m.cam(imgs[0].astype(np.float32) / 255, progress=False)
    no_flags(str(e.value))
    normalised = (to_tensor(imgs[0]) - 0.5) / 0.25
    with pytest.raises(camscope.UsageError, match=r"pixels in \[0, 1\].*images\[None\]") as e:
        m.predict(normalised, progress=False)
    no_flags(str(e.value))
    with pytest.raises(camscope.UsageError, match="differ in size") as e:
        m.predict([imgs[0], imgs[0][:16]], progress=False)
    no_flags(str(e.value))
    with pytest.raises(camscope.UsageError, match="empty list"):
        m.predict([], progress=False)
    with pytest.raises(camscope.UsageError, match=r"images\[1\]: expected a uint8 image"):
        m.predict([imgs[0], imgs[1].astype(np.int64)], progress=False)
    with pytest.raises(camscope.UsageError, match="apply to a camscope.Dataset"):
        m.predict(imgs[:2], limit=1, progress=False)
    # the RGB image given as the ambiguity error says equals the RGB image
    np.testing.assert_array_equal(m.predict(rgba[..., :3], progress=False).logits,
                                  m.predict(imgs[0], progress=False).logits)


# ----------------------------------------------------------------------------- DataLoaders and iterables


class Items(torch.utils.data.Dataset):
    """A torchvision-style dataset over the fixture's images: (transform(PIL image), label)."""

    def __init__(self, imgs, labels, classes, transform):
        self.imgs, self.labels, self.classes, self.transform = imgs, labels, classes, transform

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.imgs[i])), int(self.labels[i])


def summary_figures(rep):
    s = dict(rep.summary)
    for key in ("identity", "files", "run"):
        s.pop(key, None)
    return s


def test_dataloader_and_generator_equal_the_dataset(data, imgs, labels):
    from torchvision import transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    items = Items(imgs, labels, data.class_names, tf)
    ref = camscope.Dataset.from_torchvision(items)
    loader = torch.utils.data.DataLoader(items, batch_size=7)  # the last batch is short
    dl = camscope.Dataset(loader)
    assert len(dl) == len(ref) == len(imgs) and dl.class_names == data.class_names
    for i in (0, 6, 7, len(imgs) - 1):
        np.testing.assert_array_equal(dl[i][0], ref[i][0])
        np.testing.assert_array_equal(dl[i][0], imgs[i])
        assert dl[i][1] == ref[i][1] == labels[i]
    # The loader's Normalize is read as from_torchvision reads the dataset's
    m = camscope.Model(MODEL)
    assert m.input_spec(dl)["normalisation"] == m.input_spec(ref)["normalisation"]
    assert "Normalize" in m.input_spec(dl)["normalisation"]
    want = summary_figures(camscope.analyze(camscope.Model(MODEL), ref, faithfulness_n=0, progress=False))
    got = summary_figures(camscope.analyze(camscope.Model(MODEL), loader, faithfulness_n=0, progress=False))
    assert got == want

    # A generator of uint8 NumPy batches: the Dataset of the same arrays
    def batches():
        for s in range(0, len(imgs), 9):
            yield imgs[s:s + 9], labels[s:s + 9]

    arrays = camscope.Dataset.from_arrays(imgs, labels, data.class_names)
    gen = camscope.Dataset(batches(), class_names=data.class_names)
    assert len(gen) == len(arrays)
    np.testing.assert_array_equal(np.stack([gen[i][0] for i in range(len(gen))]), imgs)
    want = summary_figures(camscope.analyze(camscope.Model(MODEL), arrays, faithfulness_n=0, progress=False))
    got = summary_figures(camscope.analyze(camscope.Model(MODEL), camscope.Dataset(batches(), class_names=data.class_names),
                                           faithfulness_n=0, progress=False))
    assert got == want
    # A list of batches; limit stops early
    lst = camscope.Dataset(list(batches()), limit=11)
    assert len(lst) == 11 and lst[10][1] == labels[10]
    np.testing.assert_array_equal(lst[10][0], imgs[10])


def test_shuffled_subset_loader_follows_the_iteration_order(data, imgs, labels):
    from torchvision import transforms

    items = Items(imgs, labels, data.class_names, transforms.Compose([transforms.ToTensor(),
                                                                      transforms.Normalize(CIFAR_MEAN, CIFAR_STD)]))
    sub = torch.utils.data.Subset(items, list(range(3, 23)))
    loader = torch.utils.data.DataLoader(sub, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(5))
    # the order torch draws: the same sampler and seed over the indices themselves
    ids = torch.utils.data.DataLoader(list(range(20)), batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(5))
    order = [3 + int(i) for b in ids for i in b]
    assert order != list(range(3, 23))
    ds = camscope.Dataset.from_batches(loader)
    assert len(ds) == 20
    for k in range(20):
        np.testing.assert_array_equal(ds[k][0], imgs[order[k]])
        assert ds[k][1] == labels[order[k]]
    assert "Normalize" in camscope.Model(MODEL).input_spec(ds)["normalisation"]  # found through the Subset


def test_fakedata_loader_and_bad_batches():
    from torchvision import datasets, transforms

    fake = datasets.FakeData(size=10, image_size=(3, 32, 32), num_classes=4, transform=transforms.ToTensor(),
                             random_offset=3)
    ds = camscope.Dataset(torch.utils.data.DataLoader(fake, batch_size=4))
    ref = camscope.Dataset.from_torchvision(fake)
    assert len(ds) == 10
    for i in range(10):
        np.testing.assert_array_equal(ds[i][0], ref[i][0])
        assert ds[i][1] == ref[i][1]
    # an iterable of (image, label) pairs (as a torch IterableDataset yields them)
    pairs = camscope.Dataset(iter([(fake[i][0], fake[i][1]) for i in range(10)]))
    for i in range(10):
        np.testing.assert_array_equal(pairs[i][0], ref[i][0])
        assert pairs[i][1] == ref[i][1]
    with pytest.raises(camscope.UsageError, match="batch 0 is a int, expected \\(images, labels\\)"):
        camscope.Dataset(iter([1, 2]))
    with pytest.raises(camscope.UsageError, match="batch 0 has 2 images and 3 labels"):
        camscope.Dataset(iter([(np.zeros((2, 8, 8, 3), np.uint8), [0, 1, 2])]))
    with pytest.raises(camscope.UsageError, match="no batches"):
        camscope.Dataset(iter([]))


# ----------------------------------------------------------------------------- layers


def cli_layers(*args):
    r = subprocess.run([CLI, "-q", "layers", MODEL, *args], capture_output=True, text=True,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[1:]


def test_layers_carry_layout_and_the_automatic_choice(data):
    m = camscope.Model(MODEL)
    rows = m.layers(data)
    for path, type_, shape in rows:  # existing callers' unpacking still reads the rows
        assert isinstance(path, str) and isinstance(type_, str) and isinstance(shape, list)
    lines = [l for l in cli_layers("-d", DATA) if l and not l.startswith("no automatic")]
    assert [r.path for r in rows] == [l.split()[0] for l in lines]
    for r, line in zip(rows, lines):
        assert line.split()[3] == r.layout.split()[0]  # "nchw" / "-"
        assert r.default == line.endswith("<- automatic CAM layer")
        if r.layout != "-":
            assert " ".join(line.split()[3:5]) == r.layout
    (auto,) = [r.path for r in rows if r.default]
    assert auto == m.default_layer(data) == m.default_layer(data[0][0])
    # cam() without a layer uses it
    x = np.stack([data[i][0] for i in range(4)])
    np.testing.assert_array_equal(camscope.Model(MODEL).cam(x, progress=False),
                                  camscope.Model(MODEL).cam(x, layer=auto, progress=False))
    assert "default=True" in repr([r for r in rows if r.default][0])


def test_layout_and_grid_keywords(data):
    forced = camscope.Model(MODEL, layout="nhwc", grid=(32, 8))
    row = {r.path: r for r in forced.layers(data)}["layer3"]
    plain = {r.path: r for r in camscope.Model(MODEL).layers(data)}["layer3"]
    assert plain.layout == "nchw 8x8" and row.layout != plain.layout
    no_flags(row.evidence)
    assert [r.layout for r in camscope.Model(MODEL, grid="32x8", layout="nhwc").layers(data)] == \
        [r.layout for r in forced.layers(data)]
    with pytest.raises(camscope.UsageError, match="layout") as e:
        camscope.Model(MODEL, layout="nchw2")
    no_flags(str(e.value))
    with pytest.raises(camscope.UsageError, match="grid") as e:
        camscope.Model(MODEL, grid="8by8")
    no_flags(str(e.value))
    with pytest.raises(camscope.UsageError, match="grid"):
        camscope.Model(MODEL, grid=(8, 8, 8))
    with pytest.raises(camscope.Error) as e:  # a layer that is not there: the message names layer=, not --layer
        camscope.Model(MODEL).cam(data, layer="layer9", indices=[0], progress=False)
    no_flags(str(e.value))


def test_layer_given_as_the_module(data, tiny_resnet):
    net = tiny_resnet.eval()
    x = np.stack([data[i][0] for i in range(4)])
    example = torch.zeros(1, 3, 32, 32)
    want = camscope.Model.from_torch(net, example, norm="cifar10").cam(x, layer="layer2", progress=False)
    got = camscope.Model.from_torch(net, example, norm="cifar10").cam(x, layer=net.layer2, progress=False)
    np.testing.assert_array_equal(got, want)
    both = camscope.Model.from_torch(net, example, norm="cifar10").cam(x, layer=[net.layer2, "layer3"], progress=False)
    np.testing.assert_array_equal(
        both, camscope.Model.from_torch(net, example, norm="cifar10").cam(x, layer=["layer2", "layer3"], progress=False))
    m = camscope.Model.from_torch(net, example, norm="cifar10")
    with pytest.raises(camscope.UsageError, match="not a submodule") as e:
        m.cam(x, layer=torch.nn.Conv2d(3, 3, 1), progress=False)
    no_flags(str(e.value))
    with pytest.raises(camscope.UsageError, match="whole model"):
        m.cam(x, layer=net, progress=False)
    with pytest.raises(camscope.UsageError, match=r"layer\[1\]: expected a layer path"):
        m.cam(x, layer=["layer2", 3], progress=False)
    with pytest.raises(camscope.UsageError, match="loaded from a file") as e:
        camscope.Model(MODEL).cam(x, layer=net.layer2, progress=False)
    no_flags(str(e.value))


# ----------------------------------------------------------------------------- threads


def test_threads_leave_torch_alone_and_small_calls_use_one(data, imgs, thread_counts):
    """Every threads value leaves torch.get_num_threads() as it was; during a call (seen from the
    progress callback, on the calling thread) the default runs small calls on 1 thread and large
    ones with PyTorch's setting; another Python thread sees its own count unchanged meanwhile."""
    mine, seen = thread_counts
    for threads in (None, 0, 1, 2):
        m = camscope.Model(MODEL, threads=threads)
        assert torch.get_num_threads() == mine
        seen.clear()
        m.predict(imgs[:4], progress=True)
        m.cam(imgs[:4], progress=True)
        assert torch.get_num_threads() == mine
        small = set(seen)
        seen.clear()
        m.predict(np.concatenate([imgs] * (64 // len(imgs) + 1)), progress=True)  # >= 64 images
        m.predict(data, progress=True)
        assert torch.get_num_threads() == mine
        large = set(seen)
        cores = os.cpu_count() or 1
        want = {None: ({1}, {mine}), 0: ({mine}, {mine}), 1: ({1}, {1}), 2: ({min(2, cores)}, {min(2, cores)})}
        assert (small, large) == want[threads], (threads, small, large)
        assert m.info["threads"] == threads
    # Another Python thread's count does not move while a call runs with 1 thread on this one.
    stop, ready, other = threading.Event(), threading.Event(), []

    def watch():
        torch.get_num_threads()  # this thread's count set up (from PyTorch's) before the call
        ready.set()
        while not stop.is_set():
            other.append(torch.get_num_threads())

    w = threading.Thread(target=watch)
    w.start()
    ready.wait()
    try:
        camscope.Model(MODEL, threads=1).cam(data, progress=False)
    finally:
        stop.set()
        w.join()
    assert other and set(other) == {mine}
    # Nor does the count a thread started during such a call takes (LibTorch's process-wide
    # setting would give it the call's 1, for good).
    fresh, during = [], []

    def on_progress(*a):
        during.append(torch.get_num_threads())
        if not fresh:
            t = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
            t.start()
            t.join()

    camscope._c._set_progress_callback(on_progress)
    camscope.Model(MODEL, threads=1).cam(data, indices=range(8), progress=True)
    assert set(during) == {1} and fresh == [mine]
    with pytest.raises(camscope.UsageError, match="threads must be None") as e:
        camscope.Model(MODEL, threads=-1)
    no_flags(str(e.value))

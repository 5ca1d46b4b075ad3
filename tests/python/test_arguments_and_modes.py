"""The Python package under a notebook's conditions (issue 22): PyTorch's grad and inference modes
and its thread count, which the package shares (one libtorch in the process), are honoured and left
as they were; Explorer.stop() from several threads; Dataset(path, limit=, class_names=); and
argument values the package refuses with its own argument names (max_channels, alpha, labels that
are not whole numbers, indices out of range) or handles as documented (negative indices, empty
batches).

Run by CTest (python.arguments) like test_camscope.py: PYTHONPATH=<build>/python, CAMSCOPE_BINARY,
CAMSCOPE_FIXTURES_DIR."""
import os
import subprocess
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

import camscope

torch = pytest.importorskip("torch")

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
CLI = os.environ.get("CAMSCOPE_BINARY", "camscope")
MODEL = os.path.join(FIX, "tiny_cifar10_model.pt")
DATA = os.path.join(FIX, "tiny_cifar10")


def cli_ok(*args):
    r = subprocess.run([CLI, "-q", *args], capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def data():
    return camscope.Dataset(DATA)


@pytest.fixture(scope="module")
def model():
    return camscope.Model(MODEL)


@pytest.fixture(scope="module")
def model_norm():
    return camscope.Model(MODEL, norm="cifar10")


# ----------------------------------------------------------------------------- torch's modes


GRAD_OFF = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode,
            "set_grad_enabled(False)": lambda: torch.set_grad_enabled(False)}


@pytest.mark.parametrize("mode", sorted(GRAD_OFF))
def test_cams_and_analyze_work_with_grad_disabled(data, tmp_path, mode):
    """Inside torch.no_grad() / inference_mode() / set_grad_enabled(False) (notebooks wrap evaluation
    in these): Model.cam (dataset and arrays) and analyze give what `camscope cam` / outside the
    context give, a Model can even be created there, and the caller's modes are as they were."""
    cli_ok("cam", "-m", MODEL, "-d", DATA, "-i", "0-7", "-o", str(tmp_path))
    want = np.load(tmp_path / "cams.npy")
    imgs = np.stack([data[i][0] for i in range(8)])
    outside = camscope.analyze(camscope.Model(MODEL), data, faithfulness_n=4, progress=False)
    with GRAD_OFF[mode]():
        inference = torch.is_inference_mode_enabled()
        assert not torch.is_grad_enabled()
        m = camscope.Model(MODEL)  # loaded in the mode: its parameters must still allow a backward
        got = m.cam(data, indices=range(8), progress=False)
        arrays = camscope.Model(MODEL, norm="cifar10").cam(imgs, method="gradcampp", progress=False)
        rep = camscope.analyze(camscope.Model(MODEL), data, faithfulness_n=4, progress=False)
        assert not torch.is_grad_enabled() and torch.is_inference_mode_enabled() == inference
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    ref = camscope.Model(MODEL, norm="cifar10").cam(imgs, method="gradcampp", progress=False)
    np.testing.assert_allclose(arrays, ref, atol=1e-5, rtol=0)
    for s in (rep.summary, outside.summary):
        s["faithfulness"].pop("seconds")
    for key in ("overall", "calibration", "faithfulness"):
        assert rep.summary[key] == outside.summary[key], key
    # The model loaded inside the mode computes CAMs outside it too.
    np.testing.assert_allclose(m.cam(data, indices=range(8), progress=False), want, atol=1e-5, rtol=0)


def test_models_leave_torchs_thread_count_alone(data, thread_counts):
    """Creating a Model and calling it do not change torch.get_num_threads(); Model(threads=N) runs
    its calls with N threads (seen from the progress callback, on the calling thread) and restores
    the caller's count after each."""
    mine, seen = thread_counts
    m = camscope.Model(MODEL, threads=0)  # PyTorch's setting (the default, None, runs small calls on 1)
    assert torch.get_num_threads() == mine
    m.cam(data, indices=range(4), progress=True)
    camscope.analyze(m, data, limit=16, faithfulness_n=0, progress=True)
    assert torch.get_num_threads() == mine
    assert seen and set(seen) == {mine}, seen  # the caller's setting during the calls
    seen.clear()
    one = camscope.Model(MODEL, threads=1)
    assert torch.get_num_threads() == mine and one.info["threads"] == 1
    one.cam(data, indices=range(4), progress=True)
    one.predict(data, limit=8, progress=True)
    assert seen and set(seen) == {1}, seen
    assert torch.get_num_threads() == mine
    with pytest.raises(camscope.UsageError, match="threads must be None .* 0 .* or a positive count"):
        camscope.Model(MODEL, threads=-1)


# ----------------------------------------------------------------------------- explorer


def test_explorer_stop_from_two_threads_at_once(model, data):
    """Two threads call stop() together (and a third call follows): each returns, the server is
    stopped. A join timeout, not a wall-clock bound: a caller blocked forever fails here."""
    rep = camscope.analyze(model, data, limit=16, faithfulness_n=0, progress=False)
    for _ in range(3):
        ex = camscope.explore(rep)
        with urllib.request.urlopen(ex.url + "api/summary", timeout=30) as r:
            assert r.status == 200
        barrier = threading.Barrier(2)
        errors = []

        def stop():
            try:
                barrier.wait(timeout=60)
                ex.stop()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=stop, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a stop() caller never returned"
        assert errors == []
        ex.stop()
        assert not ex.running
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(ex.url + "api/summary", timeout=5)


# ----------------------------------------------------------------------------- Dataset(path, ...)


def test_dataset_limit_and_class_names(model, data):
    names = [f"c{k}" for k in range(10)]
    few = camscope.Dataset(DATA, limit=5, class_names=names)
    assert len(few) == 5 and few.class_names == names and few.info["size"] == 5
    for i in range(5):
        np.testing.assert_array_equal(few[i][0], data[i][0])
        assert few[i][1] == data[i][1]
    with pytest.raises(IndexError):
        few[5]
    p = model.predict(few, progress=False)
    q = model.predict(data, limit=5, progress=False)
    np.testing.assert_array_equal(p.logits, q.logits)
    rep = camscope.analyze(model, few, faithfulness_n=0, progress=False)
    assert rep.n == 5 and [c["name"] for c in rep.table("per_class", frame=False)] == names
    assert len(camscope.Dataset(DATA, limit=10 ** 6)) == len(data)  # more than it has: all of them
    assert camscope.Dataset(DATA, limit=7).class_names == data.class_names
    with pytest.raises(camscope.UsageError, match=r"class_names: 3 names for the 10 classes of .*tiny_cifar10"):
        camscope.Dataset(DATA, class_names=["a", "b", "c"])
    for bad in (0, -3):
        with pytest.raises(camscope.UsageError, match="limit must be a positive number of images"):
            camscope.Dataset(DATA, limit=bad)
    with pytest.raises(camscope.UsageError, match="limit = 2.5 is not a whole number"):
        camscope.Dataset(DATA, limit=2.5)

    class Items:  # torchvision-style, with .classes
        classes = data.class_names

        def __len__(self):
            return 12

        def __getitem__(self, i):
            return data[i]

    tv = camscope.Dataset(Items(), limit=4, class_names=names)
    assert len(tv) == 4 and tv.class_names == names
    with pytest.raises(camscope.UsageError, match=r"class_names: 2 names for the 10 classes of Items"):
        camscope.Dataset(Items(), class_names=["a", "b"])


# ----------------------------------------------------------------------------- argument values


def test_max_channels_and_alpha_are_checked(model, data, tmp_path):
    for call in (lambda: model.cam(data, method="scorecam", indices=[0], max_channels=-5, progress=False),
                 lambda: camscope.analyze(model, data, max_channels=-5, progress=False)):
        with pytest.raises(ValueError, match=r"max_channels must be an integer in 0\.\.2147483647 .*got -5") as e:
            call()
        assert isinstance(e.value, camscope.UsageError)
    with pytest.raises(camscope.UsageError, match=r"alpha applies to the finercam method only, not gradcam"):
        model.cam(data, indices=[0], alpha=0.5, progress=False)
    with pytest.raises(ValueError, match=r"alpha applies to the finercam method only, not gradcampp"):
        camscope.analyze(model, data, method="gradcampp", alpha=0.5, progress=False)
    with pytest.raises(camscope.UsageError, match=r"^contrast applies to the finercam method only, not gradcam") as e:
        model.cam(data, indices=[0], contrast=[1], progress=False)
    assert "--" not in str(e.value)  # the package's argument names, not the CLI's flags
    # With finercam, alpha is used: the CLI's maps for the same alpha.
    cli_ok("cam", "-m", MODEL, "-d", DATA, "-i", "0-5", "--method", "finercam", "--alpha", "0.5", "-o", str(tmp_path))
    got = camscope.Model(MODEL).cam(data, method="finercam", alpha=0.5, indices=range(6), progress=False)
    np.testing.assert_allclose(got, np.load(tmp_path / "cams.npy"), atol=1e-6, rtol=0)


def test_labels_and_targets_must_be_whole_numbers(model_norm, data):
    imgs = np.stack([data[i][0] for i in range(4)])
    labels = [data[i][1] for i in range(4)]
    as_float = camscope.Dataset.from_arrays(imgs, np.asarray(labels, np.float64), data.class_names)
    assert [as_float[i][1] for i in range(4)] == labels  # 3.0 is 3
    bad = [float(v) for v in labels]
    bad[2] = 9.7
    with pytest.raises(camscope.UsageError, match=r"labels\[2\] = 9\.7 is not a whole number"):
        camscope.Dataset.from_arrays(imgs, bad, data.class_names)
    with pytest.raises(camscope.UsageError, match=r"labels\[0\] = nan is not a whole number"):
        camscope.Dataset.from_arrays(imgs[:1], [float("nan")], data.class_names)
    with pytest.raises(camscope.UsageError, match=r"coarse\[1\] = 0\.5 is not a whole number"):
        camscope.Dataset.from_arrays(imgs, labels, data.class_names, coarse=[0, 0.5, 0, 0])
    with pytest.raises(camscope.UsageError, match=r"labels\[2\] = 9\.7 is not a whole number"):
        model_norm.cam(imgs, "true", labels=bad, progress=False)
    with pytest.raises(camscope.UsageError, match=r"class index = 2\.5 is not a whole number"):
        model_norm.cam(imgs, [1, 2.5, 3, 4], progress=False)
    np.testing.assert_array_equal(model_norm.cam(imgs, [1.0, 2.0, 3.0, 4.0], progress=False),
                                  model_norm.cam(imgs, [1, 2, 3, 4], progress=False))


def test_class_targets_are_checked_by_the_librarys_parser(model_norm, data, tmp_path):
    """targets=, contrast= and labels go through data/class_ref (the CLI's and the server's rule and
    wording): an int of any size is range-checked against the model's classes, also for a model
    without class names (the arrays path accepted any int there, and one past 32 bits was a
    TypeError) and for a dataset with generic names."""
    imgs = np.stack([data[i][0] for i in range(2)])
    assert model_norm.class_names == []  # no camscope metadata: the count is the model's 10 outputs
    for t in (10, 99999999999, 2 ** 70, np.int64(10)):
        with pytest.raises(camscope.UsageError, match=rf"^targets: class '{int(t)}' out of range: the model has 10 "
                                                      rf"classes \(expected pred, true, a class index 0 to 9\)$"):
            model_norm.cam(imgs, t, progress=False)
    with pytest.raises(camscope.UsageError, match=r"^targets: class '-1' out of range"):
        model_norm.cam(imgs, -1, progress=False)
    with pytest.raises(camscope.UsageError, match=r"^targets\[1\]: class '99999999999' out of range"):
        model_norm.cam(imgs, [1, 99999999999], progress=False)
    with pytest.raises(camscope.UsageError, match=r"^targets: unknown class 'cat': the model's classes have no names"):
        model_norm.cam(imgs, "cat", progress=False)
    with pytest.raises(camscope.UsageError, match=r"^labels\[0\]: class '12' out of range"):
        model_norm.cam(imgs, "true", labels=[12, 0], progress=False)
    generic = camscope.Dataset.from_arrays(imgs, [0, 1], [f"class_{k}" for k in range(10)])
    with pytest.raises(camscope.UsageError, match=r"^targets: class '99999999999' out of range: the model has 10 classes"):
        model_norm.cam(generic, 99999999999, progress=False)
    with pytest.raises(camscope.UsageError, match=r"^contrast: class '99999999999' out of range"):
        model_norm.cam(generic, method="finercam", contrast=[99999999999], progress=False)
    np.testing.assert_array_equal(model_norm.cam(generic, "CLASS_3", progress=False),
                                  model_norm.cam(generic, 3, progress=False))
    # The same words as `camscope cam -t` (after each edge's own argument name).
    with pytest.raises(camscope.UsageError) as e:
        model_norm.cam(data, 99999999999, indices=[0], progress=False)
    r = subprocess.run([CLI, "-q", "cam", "-m", MODEL, "-d", DATA, "--norm", "cifar10", "-i", "0", "-t", "99999999999",
                        "-o", str(tmp_path / "c")], capture_output=True, text=True,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    assert r.returncode == 2
    assert r.stderr.strip() == "camscope: " + str(e.value).replace("targets: ", "-t/--target: ", 1)


def test_input_errors_name_the_models_arguments(tmp_path):
    """The library's input-spec messages speak of the CLI's flags; from Python, of Model's arguments."""
    bare = camscope.Model(MODEL)  # no camscope metadata: no input size of its own
    with pytest.raises(camscope.UsageError, match=r"input size is unknown: pass input_size=\(H, W\) to camscope.Model"):
        bare.layers()
    with pytest.raises(camscope.UsageError, match=r"^mean/std need 3 values \(one per channel\), got 2 and 3$"):
        camscope.Model(MODEL, mean=[0.5, 0.5], std=[0.2] * 3).predict(np.zeros((1, 8, 8, 3), np.uint8), progress=False)
    with pytest.raises(camscope.UsageError, match=r"^unknown norm preset 'cifar11'"):
        camscope.Model(MODEL, norm="cifar11").predict(np.zeros((1, 8, 8, 3), np.uint8), progress=False)
    with pytest.raises(camscope.UsageError, match=r"^std values must be finite and positive, got 0$"):
        camscope.Model(MODEL, mean=[0.5], std=[0.0]).predict(np.zeros((1, 8, 8, 3), np.uint8), progress=False)


def test_indices_negative_and_out_of_range(model, data):
    n = len(data)
    img, label = data[-1]
    np.testing.assert_array_equal(img, data[n - 1][0])
    assert label == data[n - 1][1]
    for i in (n, -n - 1, 10 ** 12):
        with pytest.raises(IndexError, match=rf"index = {i} is out of range: the dataset has {n} images "
                                             rf"\(valid: 0\.\.{n - 1}, or -{n}\.\.-1 counting from the end\)"):
            data[i]
    np.testing.assert_array_equal(model.cam(data, indices=[-1, -2], progress=False),
                                  model.cam(data, indices=[n - 1, n - 2], progress=False))
    p = model.predict(data, indices=[-1, 0], progress=False)
    assert p.indices.tolist() == [n - 1, 0]
    with pytest.raises(IndexError, match=rf"indices\[1\] = -{n + 5} is out of range: the dataset has {n} images"):
        model.cam(data, indices=[0, -n - 5], progress=False)
    with pytest.raises(IndexError, match=rf"indices\[0\] = {n} is out of range"):
        model.predict(data, indices=[n], progress=False)
    with pytest.raises(camscope.UsageError, match=r"indices\[0\] = 1\.5 is not a whole number"):
        model.cam(data, indices=[1.5], progress=False)


def test_empty_batches_give_empty_results(model_norm, model, data):
    """An empty batch, uint8 or float, or an empty selection of a dataset: an empty result of the
    right shape (logits 0×K, maps 0×H×W), the same for each."""
    k = model.predict(data, limit=1, progress=False).logits.shape[1]
    for empty in (np.zeros((0, 32, 32, 3), np.uint8), np.zeros((0, 3, 32, 32), np.float32)):
        p = model_norm.predict(empty, progress=False)
        assert p.logits.shape == p.probs.shape == (0, k) and len(p) == 0
        maps, q = model_norm.cam(empty, progress=False, return_predictions=True)
        assert maps.shape == (0, 32, 32) and q.logits.shape == (0, k)
    assert model.cam(data, indices=[], progress=False).shape == (0, 32, 32)
    p = model.predict(data, indices=[], progress=False)
    assert p.logits.shape == (0, k) and len(p.indices) == 0
    # A dataset still needs images, and an image needs pixels.
    with pytest.raises(camscope.UsageError, match="no images"):
        camscope.Dataset.from_arrays(np.zeros((0, 8, 8, 3), np.uint8), [], ["a"])
    for bad in (np.zeros((2, 0, 32, 3), np.uint8), np.zeros((2, 3, 32, 0), np.float32)):
        with pytest.raises(camscope.UsageError, match=r"images: images without pixels \(shape \(2, "):
            model_norm.predict(bad, progress=False)

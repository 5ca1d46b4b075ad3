"""camscope.rescore: the same library call as `camscope rescore` (the same files, byte for byte),
the tags given as a file or as a dict, the numbers counted here from the store's arrays (NumPy), a
report without its store refused, and two analyses' ranking (an A/B flip constructed from both
models' predictions)."""
import json
import os
import subprocess

import numpy as np
import pytest

import camscope

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
CLI = os.environ.get("CAMSCOPE_BINARY", "camscope")
MODEL = os.path.join(FIX, "tiny_cifar10_model.pt")
DATA = os.path.join(FIX, "tiny_cifar10")


def _analyze(out, **kw):
    return camscope.analyze(camscope.Model(MODEL, **kw), camscope.Dataset(DATA), out=out, store=True, batch_size=16,
                            faithfulness_n=0, progress=False)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("rescore")
    a, b = root / "a", root / "b"
    _analyze(a)
    _analyze(b, norm="imagenet")
    return a, b


def _preds(rep):
    y = np.load(rep / "store" / "label.npy")
    return y, np.load(rep / "store" / "logits.npy").argmax(1)


def test_rescore_equals_cli_and_counts(reports, tmp_path):
    a, _ = reports
    y, p = _preds(a)
    wrong = [int(i) for i in np.flatnonzero(p != y)]
    right = [int(i) for i in np.flatnonzero(p == y)]
    tags = {wrong[0]: ["relabel", f"relabel:{p[wrong[0]]}"], wrong[1]: ["relabel"], right[0]: ["ok"],
            right[1]: [f"relabel:{(y[right[1]] + 1) % 10}"], right[2]: [f"relabel:{y[right[2]]}"]}
    f = tmp_path / "tags.json"
    f.write_text(json.dumps({"tags": {str(k): v for k, v in tags.items()}}))

    before = {n: (a / n).read_bytes() for n in os.listdir(a) if (a / n).is_file()}
    r = camscope.rescore(a, f)  # default folder: <report>/rescored
    assert r["folder"] == str(a / "rescored")
    assert {n: (a / n).read_bytes() for n in os.listdir(a) if (a / n).is_file()} == before
    # counted here: one error becomes right, one right image becomes wrong; one flagged, one kept
    assert r["a"]["correct_before"] == int((p == y).sum())
    assert r["a"]["correct_after"] == int((p == y).sum())  # +1 - 1
    assert r["relabelled"] == 2
    assert r["flagged_no_label"]["rows"] == [wrong[1]]
    assert r["kept_label"]["rows"] == [right[2]]
    assert r["marked_ok"] == 1
    assert [c["row"] for c in r["changed_images"]] == sorted([wrong[0], right[1]])
    assert "not applied" in r["text"]
    assert "ranking" not in r
    y2 = y.copy()
    y2[wrong[0]], y2[right[1]] = p[wrong[0]], (y[right[1]] + 1) % 10
    by_class = {c["index"]: c for c in r["per_class"]}
    for k in range(10):
        assert by_class[k]["support"] == int((y2 == k).sum())
        assert by_class[k]["correct"] == int(((y2 == k) & (p == k)).sum())
        assert by_class[k]["support_original"] == int((y == k).sum())

    # The CLI writes the same files; the dict form of the tags gives the same numbers.
    cli_out, py_out = tmp_path / "cli", tmp_path / "py"
    res = subprocess.run([CLI, "rescore", str(a), "--tags", str(f), "--out", str(cli_out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout == camscope.rescore(a, f, out=py_out)["text"].replace(str(py_out), str(cli_out))
    for n in ("per_class_rescored.csv", "confusion_matrix_rescored.csv", "changed_images.csv", "rescored_summary.json"):
        assert (cli_out / n).read_bytes() == (py_out / n).read_bytes(), n
    d = camscope.rescore(a, tags, out=tmp_path / "dict")
    s = json.loads((cli_out / "rescored_summary.json").read_text())
    for key in ("a", "per_class", "likely_label_errors", "changed_images", "flagged_no_label"):
        assert d[key] == s[key], key
    assert camscope.rescore(a, {"tags": tags}, out=tmp_path / "dict2")["a"] == s["a"]
    export = {"run": MODEL, "images": [{"row": k, "tags": v} for k, v in tags.items()]}
    assert camscope.rescore(a, export, out=tmp_path / "dict3")["changed_images"] == s["changed_images"]


def test_rescore_two_models_ranking_flip(reports, tmp_path):
    a, b = reports
    y, pa = _preds(a)
    _, pb = _preds(b)
    ca, cb = int((pa == y).sum()), int((pb == y).sum())
    assert ca != cb
    lead, trail = (pa, pb) if ca > cb else (pb, pa)
    y2, tags = y.copy(), {}
    # rows the leader gets right and the other wrong take the other's answer, then rows both get wrong
    for cond in ((lead == y) & (trail != y), (lead != y) & (trail != y) & (lead != trail)):
        for i in np.flatnonzero(cond):
            if (lead == y2).sum() < (trail == y2).sum():
                break
            tags[int(i)] = [f"relabel:{trail[i]}"]
            y2[i] = trail[i]
    assert (lead == y2).sum() < (trail == y2).sum()
    r = camscope.rescore(a, tags, other=b, out=tmp_path / "ab")
    assert r["a"]["correct_after"] == int((pa == y2).sum())
    assert r["b"]["correct_after"] == int((pb == y2).sum())
    assert r["ranking"]["changes"] is True
    assert r["ranking"]["before"] == ("A ranks first" if ca > cb else "B ranks first")
    assert "the ranking CHANGES" in r["text"]
    r1 = camscope.rescore(a, {}, other=b, out=tmp_path / "none")
    assert r1["ranking"]["changes"] is False and r1["relabelled"] == 0


def test_rescore_refusals(reports, tmp_path):
    a, _ = reports
    no_store = tmp_path / "nostore"
    camscope.analyze(camscope.Model(MODEL), camscope.Dataset(DATA), out=no_store, batch_size=16, faithfulness_n=0,
                     limit=32, progress=False)
    with pytest.raises(camscope.Error, match=r"without its store.*store=True"):
        camscope.rescore(no_store, {})
    with pytest.raises(camscope.Error, match=r'tags\["3"\]\[0\] chooses class 10'):
        camscope.rescore(a, {3: ["relabel:10"]}, out=tmp_path / "x")
    with pytest.raises(camscope.Error, match="not an image row"):
        camscope.rescore(a, {500: ["ok"]}, out=tmp_path / "x")
    with pytest.raises(camscope.UsageError):
        camscope.rescore(a, {"tags": [1]}, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()

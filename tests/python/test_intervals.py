"""The report's 95 % intervals (issue 25, part 3) against a reference computed here, independently of
the library: Wilson intervals by scipy (binomtest(...).proportion_ci(method="wilson")), and the
seeded percentile bootstraps (CAM centre shares and their gap, ECE) re-implemented with numpy from
their definition in src/camscope/report/intervals.hpp (splitmix64, indices floor(next() * n / 2^64), one
generator restarted from the seed per statistic, numpy's default linear quantiles).

Runs the CLI (CAMSCOPE_BINARY) on the tiny CIFAR-10 fixture and reads summary.json, the CSVs,
explorer/data.js (the per-image centre shares) and store/ (logits, labels)."""
import csv
import json
import math
import os
import subprocess

import numpy as np
import pytest
from scipy.stats import binomtest

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
CLI = os.environ.get("CAMSCOPE_BINARY", "camscope")
MODEL = os.path.join(FIX, "tiny_cifar10_model.pt")
DATA = os.path.join(FIX, "tiny_cifar10")

GAMMA = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(seed, count):
    """The first `count` outputs of Vigna's splitmix64 from `seed` (uint64 arithmetic wraps)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + GAMMA * np.arange(1, count + 1, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def indices(out, n):
    """floor(x * n / 2^64) for uint64 outputs x and n < 2^32, exactly, from 32-bit halves."""
    n = np.uint64(n)
    hi, lo = out >> np.uint64(32), out & np.uint64(0xFFFFFFFF)
    with np.errstate(over="ignore"):
        return ((hi * n + ((lo * n) >> np.uint64(32))) >> np.uint64(32)).astype(np.int64)


def percentile(stats):
    lo, hi = np.quantile(np.asarray(stats, dtype=np.float64), [0.025, 0.975])  # numpy's default: linear
    return lo, hi


def boot_mean(x, seed, b):
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return None
    idx = indices(splitmix64(seed, b * len(x)), len(x)).reshape(b, len(x))
    return percentile(x[idx].mean(axis=1))


def boot_gap(a, c, seed, b):
    a, c = np.asarray(a, dtype=np.float64), np.asarray(c, dtype=np.float64)
    if len(a) == 0 or len(c) == 0:
        return None
    out = splitmix64(seed, b * (len(a) + len(c))).reshape(b, len(a) + len(c))
    ia = indices(out[:, : len(a)], len(a))
    ic = indices(out[:, len(a):], len(c))
    return percentile(a[ia].mean(axis=1) - c[ic].mean(axis=1))


def boot_ece(conf, ok, bins, seed, b):
    n = len(conf)
    edges = np.arange(bins + 1, dtype=np.float64) / bins
    # Bin b holds (b/B, (b+1)/B]; confidence 0 goes to bin 0.
    which = np.clip(np.searchsorted(edges, conf.astype(np.float64), side="left") - 1, 0, bins - 1)
    idx = indices(splitmix64(seed, b * n), n).reshape(b, n)
    eces = []
    for r in range(b):
        rows = idx[r]
        gap = np.bincount(which[rows], weights=ok[rows] - conf[rows].astype(np.float64), minlength=bins)
        eces.append(np.abs(gap).sum() / n)
    return percentile(eces)


def wilson(k, n):
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("intervals") / "report"
    r = subprocess.run([CLI, "-q", "analyze", "-m", MODEL, "-d", DATA, "-o", str(out), "--faithfulness-n", "0"],
                       capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    text = (out / "explorer" / "data.js").read_text()
    explorer = json.loads(text[text.index("{"): text.rindex("}") + 1])
    return out, summary, explorer


def close(got, want, tol=1e-9):
    assert got is not None and want is not None, (got, want)
    assert abs(got[0] - want[0]) <= tol and abs(got[1] - want[1]) <= tol, (got, want)


def test_proportions_are_wilson_intervals(report):
    out, s, _ = report
    n = s["run"]["num_images"]
    close(s["overall"]["top1_ci"], wilson(s["overall"]["correct"], n))
    checked = 0
    for c in s["per_class"]:
        if c["support"] > 0:
            close(c["accuracy_ci"], wilson(c["correct"], c["support"]))
            checked += 1
        else:
            assert c["accuracy_ci"] is None
        if c["predicted"] > 0:
            close(c["precision_ci"], wilson(c["correct"], c["predicted"]))
        for key in ("predicted_class_maps", "true_class_maps"):
            m = c["degenerate_cams"][key]
            if m["maps"] > 0:
                close(m["share_ci"], wilson(m["degenerate"], m["maps"]))
    assert checked >= 5
    support = {c["index"]: c["support"] for c in s["per_class"]}
    assert s["pairs"]["directed"], "the fixture's model makes errors"
    for p in s["pairs"]["directed"]:
        close(p["rate_ci"], wilson(p["count"], support[p["true"]]))
    for p in s["pairs"]["symmetric"]:
        close(p["rate_ci"], wilson(p["count"], support[p["a"]] + support[p["b"]]))
    # The CSVs carry the same figures (%.6g) in their last columns.
    with open(out / "per_class_accuracy.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0].keys())[:9] == ["class_index", "class_name", "support", "accuracy", "precision", "f1",
                                        "mean_confidence", "most_confused_with", "most_confused_count"]
    for row, c in zip(rows, s["per_class"]):
        if c["support"] > 0:
            close((float(row["accuracy_ci_lo"]), float(row["accuracy_ci_hi"])), wilson(c["correct"], c["support"]),
                  tol=1e-6)
    with open(out / "most_confused_pairs.csv", newline="") as f:
        pairs = [r for r in csv.DictReader(f) if r["kind"] == "directed"]
    for row in pairs:
        close((float(row["rate_ci_lo"]), float(row["rate_ci_hi"])),
              wilson(int(row["count"]), support[int(row["a_index"])]), tol=1e-6)


def test_centre_shares_are_the_seeded_percentile_bootstrap(report):
    # data.js rounds each image's centre share to 4 decimals (|error| <= 5e-5); a resample's mean, and
    # so each quantile, moves by at most that much. Another index stream would move them by far more
    # (about the interval's own sampling noise, 1e-3 and up at these sizes).
    tol = 5e-5 + 1e-9
    _, s, e = report
    opt = s["run"]["options"]["intervals"]
    seed, b = opt["bootstrap_seed"], opt["bootstrap_resamples"]
    rows = e["rows"]
    label, pred, centre = np.array(rows["label"]), np.array(rows["pred"]), rows["centre"]
    has = np.array([v is not None for v in centre])
    share = np.array([v if v is not None else math.nan for v in centre], dtype=np.float64)
    ok_all = share[has & (label == pred)]
    bad_all = share[has & (label != pred)]
    f = s["focus"]["overall"]
    close(f["centre_share_correct_ci"], boot_mean(ok_all, seed, b), tol)
    close(f["centre_share_wrong_ci"], boot_mean(bad_all, seed, b), tol)
    close(f["gap_ci"], boot_gap(ok_all, bad_all, seed, b), 2 * tol)
    # ... and the seed matters: another seed's interval is not within that tolerance.
    other = boot_mean(ok_all, seed + 1, b)
    assert max(abs(other[0] - f["centre_share_correct_ci"][0]), abs(other[1] - f["centre_share_correct_ci"][1])) > tol
    for c in s["per_class"]:
        sel = has & (label == c["index"])
        ok = share[sel & (label == pred)]
        bad = share[sel & (label != pred)]
        fc = c["focus"]
        for got, want, t in ((fc["centre_share_correct_ci"], boot_mean(ok, seed, b), tol),
                             (fc["centre_share_wrong_ci"], boot_mean(bad, seed, b), tol),
                             (fc["gap_ci"], boot_gap(ok, bad, seed, b), 2 * tol)):
            if want is None:
                assert got is None
            else:
                close(got, want, t)


def test_ece_is_the_seeded_bootstrap_over_images(report):
    out, s, _ = report
    opt = s["run"]["options"]["intervals"]
    logits = np.load(out / "store" / "logits.npy").astype(np.float64)
    labels = np.load(out / "store" / "label.npy")
    lse = np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)) + \
        logits.max(axis=1, keepdims=True)
    probs = np.exp(logits - lse).astype(np.float32)
    pred = probs.argmax(axis=1)
    conf = probs[np.arange(len(pred)), pred]
    ok = (pred == labels).astype(np.float64)
    bins = s["calibration"]["num_bins"]
    # The point figure first: the reference's ECE is the report's.
    which = np.clip(np.searchsorted(np.arange(bins + 1) / bins, conf.astype(np.float64), side="left") - 1, 0, bins - 1)
    ece = np.abs(np.bincount(which, weights=ok - conf, minlength=bins)).sum() / len(conf)
    assert abs(ece - s["calibration"]["ece"]) < 1e-6
    close(s["calibration"]["ece_ci"], boot_ece(conf, ok, bins, opt["bootstrap_seed"], opt["bootstrap_resamples"]),
          tol=1e-6)


def test_weakest_classes_rank_by_the_upper_bound(report):
    _, s, _ = report
    pc = {c["index"]: c for c in s["per_class"]}
    his = [pc[c]["accuracy_ci"][1] for c in s["worst_classes"]]
    assert his == sorted(his)
    assert set(s["worst_classes"]) == {c for c, x in pc.items() if x["support"] > 0}

"""The flip test from Python (Report.flips, Report.table("flips"), the flip_n / flip_fraction
options) on the planted fixture of tests/fixtures/make_flip_fixtures.py: 12 red images carry a
white corner patch the model takes for "patch" (removing it must give "red" back), 2 red images are
labelled blue (nothing to remove: they stay wrong)."""
import os

import pytest

import camscope

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
MODEL = os.path.join(FIX, "flip_planted_model.pt")
DATA = os.path.join(FIX, "flip_planted")


def test_flips_of_the_planted_patch():
    rep = camscope.analyze(MODEL, DATA, faithfulness_n=0, progress=False)
    f = rep.flips
    assert f is not None and f["tested"] == 14 and f["errors"] == 14
    rows = rep.table("flips", frame=False)
    patch = [r for r in rows if r["true_name"] == "red" and r["pred_name"] == "patch"]
    mislabelled = [r for r in rows if r["true_name"] == "blue" and r["pred_name"] == "red"]
    assert len(patch) == 12 and len(mislabelled) == 2
    assert sum(r["kind"] == "distractor" and r["after_name"] == "red" for r in patch) >= 10
    assert all(r["kind"] == "missing" for r in mislabelled)
    assert f["distractor"] == sum(r["kind"] == "distractor" for r in rows)


def test_flip_options():
    rep = camscope.analyze(MODEL, DATA, faithfulness_n=0, progress=False, flip_n=3, flip_fraction=0.1)
    assert rep.flips["tested"] == 3 and rep.flips["fraction"] == 0.1
    assert camscope.analyze(MODEL, DATA, faithfulness_n=0, progress=False, flip_n=0).flips is None
    with pytest.raises(camscope.UsageError):
        camscope.analyze(MODEL, DATA, faithfulness_n=0, progress=False, flip_fraction=1.0)

"""camscope.analyze's sanity gate of the maps (Report.sanity, summary.json's "sanity"): the trained
tiny CIFAR-10 model passes, the constructed model of tests/fixtures/make_sanity_fixtures.py (maps
that cannot depend on its head) fails, the options are checked. Run with PYTHONPATH=<build>/python."""
import os

import pytest

import camscope

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
DATA = os.path.join(FIX, "tiny_cifar10")


def test_trained_model_passes_and_the_gate_can_be_off():
    rep = camscope.analyze(os.path.join(FIX, "tiny_cifar10_model.pt"), DATA, limit=64, faithfulness_n=0,
                           sanity_images=8, progress=False)
    s = rep.sanity
    assert s is not None and s["passed"] is True
    assert s["n_images"] == 8 and s["layer"] == rep.summary["run"]["layer"]
    assert s["cascade"][-1]["layer"] == "fc" and s["cascade"][-1]["spearman"] < s["threshold"]
    off = camscope.analyze(os.path.join(FIX, "tiny_cifar10_model.pt"), DATA, limit=64, faithfulness_n=0,
                           sanity_images=0, progress=False)
    assert off.sanity is None


def test_maps_independent_of_the_head_fail(tmp_path):
    rep = camscope.analyze(os.path.join(FIX, "sanity_scale_head.pt"), DATA, out=tmp_path / "r", layer="features",
                           limit=64, faithfulness_n=0, sanity_images=8, progress=False)
    s = rep.sanity
    assert s["passed"] is False and s["cascade_fails"] and s["random_logit_fails"]
    assert s["cascade"][0]["layer"] == "head" and s["cascade"][0]["spearman"] > 0.999
    assert "barely change" in rep.text()
    assert (tmp_path / "r" / "sanity.csv").exists()


@pytest.mark.parametrize("opts", [{"sanity_images": -1}, {"sanity_threshold": 1.5}])
def test_bad_options_are_usage_errors(opts):
    with pytest.raises(camscope.UsageError):
        camscope.analyze(os.path.join(FIX, "tiny_cifar10_model.pt"), DATA, limit=8, faithfulness_n=0, progress=False,
                         **opts)

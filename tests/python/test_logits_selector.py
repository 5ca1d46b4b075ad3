"""Model(..., logits=) and Model.from_torch(..., logits=): a model whose forward returns a tuple or a
dict is analysed on the element chosen (an index or a key), its predictions and CAM maps equal to
those of the same weights returning only the logits; an ambiguous output is refused naming every
element, its shape and the keyword (never the CLI's --logits).

Files: tests/fixtures/make_output_fixtures.py (out_*.pt, out_manifest.json, torch's logits)."""
import json
import os
import sys

import numpy as np
import pytest

import camscope

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
MAN = json.load(open(os.path.join(FIX, "out_manifest.json")))
X = np.load(os.path.join(FIX, MAN["inputs"]))  # 2×3×32×32 float32, already normalised
LOGITS = np.load(os.path.join(FIX, MAN["logits"]))


def fixture(name):
    return os.path.join(FIX, name)


def maps_and_logits(m, method="gradcam"):
    maps = m.cam(X, "pred", method=method, layer=MAN["layer"], progress=False)
    return maps, m.predict(X, progress=False).logits


@pytest.mark.parametrize("name", [n for n, i in MAN["models"].items() if i["logits"]])
def test_file_with_selector_equals_logits_only_model(name):
    choose = MAN["models"][name]["logits"]
    m = camscope.Model(fixture(name), logits=int(choose) if choose.lstrip("-").isdigit() else choose)
    assert m.info["logits"] == choose
    plain = camscope.Model(fixture("out_plain.pt"))
    np.testing.assert_allclose(m.predict(X, progress=False).logits, LOGITS, atol=1e-5, rtol=0)
    for method in ("gradcam", "scorecam"):
        for _ in range(2):  # the cold probe, then the warm split forward
            got, _ = maps_and_logits(m, method)
            ref, _ = maps_and_logits(plain, method)
            np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)


def test_ambiguous_file_names_the_keyword_and_the_choices():
    m = camscope.Model(fixture("out_aux_logits.pt"))
    with pytest.raises(camscope.UsageError) as e:
        m.predict(X, progress=False)
    msg = str(e.value)
    assert "ambiguous" in msg and "[0] 1×5 float, [1] 1×10 float" in msg, msg
    assert "logits=INDEX (logits=0 or logits=1)" in msg, msg
    assert "--logits" not in msg, msg
    with pytest.raises(camscope.UsageError) as e:
        camscope.Model(fixture("out_dict.pt")).cam(X, progress=False)
    msg = str(e.value)
    assert "['aux'] 1×5 float, ['logits'] 1×10 float" in msg and "logits='aux' or logits='logits'" in msg, msg
    assert "--logits" not in msg, msg
    with pytest.raises(camscope.UsageError) as e:
        camscope.Model(fixture("out_plain.pt"), logits=0).predict(X, progress=False)
    assert "logits=0 chooses an element" in str(e.value) and "--logits" not in str(e.value), str(e.value)
    with pytest.raises(camscope.UsageError) as e:
        camscope.Model(fixture("out_dict.pt"), logits="scores").predict(X, progress=False)
    assert "logits='scores'" in str(e.value) and "no key 'scores'" in str(e.value), str(e.value)
    for bad in (True, 1.0, "", [1]):
        with pytest.raises(camscope.UsageError, match="logits must be an index"):
            camscope.Model(fixture("out_aux_logits.pt"), logits=bad)


# ----------------------------------------------------------------------------- live modules

torch = pytest.importorskip("torch")
sys.path.insert(0, FIX)
try:
    import make_output_fixtures as mof  # noqa: E402
finally:
    sys.path.pop(0)


def live(cls):
    """The fixture's weights in a module of class `cls` (the same state in every variant)."""
    m = cls()
    m.load_state_dict(torch.jit.load(fixture("out_plain.pt")).state_dict())
    return m.eval()


@pytest.mark.parametrize("cls,choose", [(mof.AuxLogits, 1), (mof.AuxLogits, -1), (mof.LogitsEmb, 0),
                                        (mof.DictOut, "logits"), (mof.LogitsMap, None)])
def test_from_torch_with_selector_equals_logits_only_module(cls, choose):
    example = torch.zeros(1, 3, 32, 32)
    m = camscope.Model.from_torch(live(cls), example, logits=choose)
    ref = camscope.Model.from_torch(live(mof.Plain), example)
    np.testing.assert_allclose(m.predict(X, progress=False).logits, LOGITS, atol=1e-5, rtol=0)
    for method in ("gradcam", "ablationcam"):
        for _ in range(2):
            got, _ = maps_and_logits(m, method)
            want, _ = maps_and_logits(ref, method)
            np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_from_torch_ambiguous_and_aux():
    example = torch.zeros(1, 3, 32, 32)
    with pytest.raises(camscope.UsageError) as e:
        camscope.Model.from_torch(live(mof.AuxLogits), example).predict(X, progress=False)
    msg = str(e.value)
    assert "<AuxLogits>" in msg and "ambiguous" in msg and "logits=0 or logits=1" in msg, msg
    assert "--logits" not in msg, msg
    # The other element, chosen, is what the model is analysed on: the 5-way aux head.
    aux = camscope.Model.from_torch(live(mof.AuxLogits), example, logits=0)
    want = np.load(os.path.join(FIX, MAN["aux"]))
    np.testing.assert_allclose(aux.predict(X, progress=False).logits, want, atol=1e-5, rtol=0)
    d = camscope.Model.from_torch(live(mof.DictOut), example, logits="aux")
    assert d.predict(X, progress=False).logits.shape == (2, 5)


class ListOut(mof.Net):
    """A list output (scripted: List[Tensor]); the selector indexes it like a tuple."""

    def forward(self, x):
        _, p = self.trunk(x)
        return [self.aux(p), self.fc(p)]


def test_scripted_list_output():
    example = torch.zeros(1, 3, 32, 32)
    with pytest.raises(camscope.UsageError) as e:
        camscope.Model.from_torch(live(ListOut), example, script=True).predict(X, progress=False)
    assert "a list of 2 elements" in str(e.value) and "[0] 1×5 float, [1] 1×10 float" in str(e.value), str(e.value)
    m = camscope.Model.from_torch(live(ListOut), example, script=True, logits=1)
    ref = camscope.Model.from_torch(live(mof.Plain), example, script=True)
    np.testing.assert_allclose(m.predict(X, progress=False).logits, LOGITS, atol=1e-5, rtol=0)
    np.testing.assert_allclose(maps_and_logits(m)[0], maps_and_logits(ref)[0], atol=1e-6, rtol=0)

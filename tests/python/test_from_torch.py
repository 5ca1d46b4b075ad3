"""Model.from_torch against the live torch module it was made from (the independent reference):
torchvision's classifiers (built offline: weights=None, random init, eval) trace with the gradient
path and give the module's softmax and finite, non-zero CAMs; a trace that bakes in a branch on
the input's values is caught and scripted; a module that neither traces nor scripts (akamaster's
CIFAR ResNet) gets a camscope.Error that says what failed, where, and what to change; a model
file traced under no_grad gets an engine error that says how to re-trace it."""
import io
import warnings

import numpy as np
import pytest

import camscope

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

# (name, constructor keywords) of torchvision.models: one of each family the issue lists.
TORCHVISION = [
    ("resnet18", {}),
    ("vit_b_16", {}),
    ("swin_t", {}),
    ("convnext_tiny", {}),
    ("efficientnet_b0", {}),
    ("mobilenet_v3_small", {}),
    ("regnet_y_400mf", {}),
    ("densenet121", {}),
    ("googlenet", {"init_weights": True}),  # aux_logits (the default): a namedtuple in train, logits in eval
]


def images(n, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def live_softmax(net, imgs):
    """The live module's probabilities for uint8 N×H×W×C images as camscope feeds them (from_torch
    models get no normalisation: pixels / 255)."""
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        return torch.softmax(net(x), 1).numpy()


def graph_ops(data):
    return str(torch.jit.load(io.BytesIO(data)).inlined_graph)


@pytest.mark.parametrize("name,kwargs", TORCHVISION, ids=[n for n, _ in TORCHVISION])
def test_torchvision_models(name, kwargs):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)(weights=None, **kwargs).eval()
    if name.startswith("vit"):  # torchvision zeroes ViT's head: every logit 0, every gradient 0
        nn.init.normal_(net.heads.head.weight, std=0.02)
    m = camscope.Model.from_torch(net, torch.randn(1, 3, 224, 224))
    assert m.info["from_torch"]["how"] == "traced"
    imgs = images(1, 224)
    np.testing.assert_allclose(m.predict(imgs, progress=False).probs, live_softmax(net, imgs), rtol=0, atol=1e-5)
    maps = m.cam(imgs, progress=False)
    assert maps.shape == (1, 224, 224)
    assert np.isfinite(maps).all() and maps.max() > 0


class TinyTransformer(nn.Module):
    """A conv patch embedding, nn.TransformerEncoderLayer (batch_first: both inference fast paths,
    _transformer_encoder_layer_fwd and _native_multi_head_attention, apply in eval under no_grad)
    and a linear head."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(3, 16, 8, stride=8)
        self.encoder = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        t = self.encoder(t)
        t = self.attn(t, t, t, need_weights=False)[0]
        return self.head(t.mean(1))


def test_fast_path_not_recorded_and_state_restored():
    from camscope._torch import to_torchscript

    torch.manual_seed(0)
    net = TinyTransformer().train()
    net.head.eval()
    for p in net.parameters():  # frozen: the fast path's "requires_grad" condition must still fail
        p.requires_grad_(False)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        data, how = to_torchscript(net, x)
        assert not torch.is_grad_enabled()
    ops = graph_ops(data)
    assert "_native_multi_head_attention" not in ops and "_transformer_encoder_layer_fwd" not in ops
    assert how["how"] == "traced"
    assert net.training and not net.head.training and net.encoder.training
    assert not any(p.requires_grad for p in net.parameters())
    assert not x.requires_grad

    # Through the engine: CAMs run (inside no_grad), predictions are the live module's.
    with torch.no_grad():
        m = camscope.Model.from_torch(net, x)
    assert net.training
    imgs = images(2, 32)
    np.testing.assert_allclose(m.predict(imgs, progress=False).probs, live_softmax(net.eval(), imgs), atol=1e-5)
    maps = m.cam(imgs, layer="embed", progress=False)
    assert np.isfinite(maps).all() and (maps.reshape(2, -1).max(1) > 0).all()


def test_model_file_traced_under_no_grad_says_how_to_retrace(tmp_path):
    torch.manual_seed(0)
    net = TinyTransformer().eval()
    with torch.no_grad():
        ts = torch.jit.trace(net, torch.randn(1, 3, 32, 32))
    assert "_transformer_encoder_layer_fwd" in str(ts.inlined_graph)  # the file this test is about
    path = tmp_path / "fastpath.pt"
    ts.save(str(path))
    m = camscope.Model(path)
    imgs = images(1, 32)
    np.testing.assert_allclose(m.predict(imgs, progress=False).probs, live_softmax(net, imgs), atol=1e-5)
    with pytest.raises(camscope.Error) as e:
        m.cam(imgs, layer="embed", progress=False)
    msg = str(e.value)
    assert "fast path" in msg and "torch.no_grad()" in msg and "re-trace" in msg and "Model.from_torch" in msg


class Branchy(nn.Module):
    """A branch on the input's values: tracing records only the branch the example took."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        h = self.conv(x)  # outside the branch: a layer the engine's CAMs can reach in the script
        if x.mean() > 0:
            h = torch.relu(h)
        else:
            h = torch.sigmoid(h) * 2
        return self.fc(h.mean((2, 3)))


def two_branches():
    """Float N×C×H×W inputs (camscope takes them as already normalised): one per branch."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 16, 16, generator=g)
    x[0] += 1.0
    x[1] -= 1.0
    return x


def test_data_dependent_branch_is_scripted():
    torch.manual_seed(0)
    net = Branchy().eval()
    x = two_branches()
    with pytest.warns(UserWarning, match="using torch.jit.script instead"):
        m = camscope.Model.from_torch(net, x[:1])
    how = m.info["from_torch"]
    assert how["how"] == "scripted" and "the trace differs" in how["why"]
    # Each image its own batch (the branch is on the batch's mean), on both branches: the live module's.
    with torch.no_grad():
        ref = torch.cat([net(x[i:i + 1]) for i in range(2)]).numpy()
    np.testing.assert_allclose(m.predict(x.numpy(), batch_size=1, progress=False).logits, ref, rtol=0, atol=1e-5)
    # The trace alone would be wrong on the second image: what the check caught.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TracerWarning about the branch: what this test shows
        traced = torch.jit.trace(net, x[:1], check_trace=False)
        assert (traced(x[1:]) - net(x[1:])).abs().max() > 1e-2
    maps = m.cam(x.numpy(), batch_size=1, progress=False)
    assert np.isfinite(maps).all() and (maps.reshape(2, -1).max(1) > 0).all()


def test_script_true_is_checked():
    torch.manual_seed(0)
    net = Branchy().eval()
    m = camscope.Model.from_torch(net, two_branches()[:1], script=True)
    assert m.info["from_torch"]["how"] == "scripted" and m.info["from_torch"]["why"] == "script=True"
    assert m.info["from_torch"]["check"]["max_abs_diff"] <= m.info["from_torch"]["check"]["tolerance"]


class LambdaLayer(nn.Module):
    def __init__(self, lambd):
        super().__init__()
        self.lambd = lambd

    def forward(self, x):
        return self.lambd(x)


class Activation(nn.Module):
    """A LambdaLayer of its own (torch reports a class whose scripting failed once differently the
    second time, "Can't redefine method")."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BranchyLambda(Branchy):
    """Branchy whose activation is a lambda: the trace differs and scripting fails."""

    def __init__(self):
        super().__init__()
        self.act = Activation(lambda t: torch.relu(t))

    def forward(self, x):
        h = self.conv(x)
        h = self.act(h) if x.mean() > 0 else torch.sigmoid(h)
        return self.fc(h.mean((2, 3)))


def test_branch_that_does_not_script_is_refused():
    torch.manual_seed(0)
    net = BranchyLambda().train()
    with pytest.raises(camscope.Error) as e:
        camscope.Model.from_torch(net, two_branches()[:1])
    msg = str(e.value)
    assert "the trace differs from the live module" in msg and "output differs by up to" in msg
    assert "scripting failed in act (Activation)" in msg and "make it a method or an nn.Module" in msg
    assert "make the branch not depend on the input's values" in msg and "script=True" in msg
    assert net.training and net.act.training
    with pytest.raises(camscope.Error) as e:  # the second attempt: torch's other message, the same place
        camscope.Model.from_torch(net, two_branches()[:1], script=True)
    msg = str(e.value)
    assert "scripting does not reproduce this module" in msg and "scripting failed in act (Activation)" in msg
    assert "failed earlier in this Python process" in msg and "pass script=False" in msg


# akamaster's CIFAR ResNet (github.com/akamaster/pytorch_resnet_cifar10, resnet.py), written here
# from that file as published (option A shortcut: a LambdaLayer with F.pad; F.avg_pool2d with
# out.size()[3]); resnet20 = ResNet(BasicBlock, [3, 3, 3]).


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = LambdaLayer(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4),
                                                        "constant", 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out


class CifarResNet(nn.Module):
    def __init__(self, block=BasicBlock, num_blocks=(3, 3, 3), num_classes=10):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(block, 16, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 32, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 64, num_blocks[2], stride=2)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight)

    def _make_layer(self, block, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = F.avg_pool2d(out, out.size()[3])
        out = out.view(out.size(0), -1)
        out = self.linear(out)
        return out


class CifarResNetFixed(CifarResNet):
    """The change the error asks for: int(...) around the size."""

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, int(out.size()[3]))
        return self.linear(out.view(out.size(0), -1))


def test_akamaster_resnet_says_what_failed_where():
    torch.manual_seed(0)
    net = CifarResNet().eval()
    with pytest.raises(camscope.Error) as e:
        camscope.Model.from_torch(net, torch.randn(1, 3, 32, 32))
    msg = str(e.value)
    assert "neither tracing nor scripting reproduces this module" in msg
    # tracing: the root module's forward, the avg_pool2d line, the int(...) advice
    assert "tracing failed in the root module (CifarResNet)" in msg
    assert "`out = F.avg_pool2d(out, out.size()[3])`" in msg and "int(...)" in msg
    # scripting: the lambda shortcuts, by submodule path and type
    assert "scripting failed in layer2.0.shortcut, layer3.0.shortcut (LambdaLayer)" in msg
    assert "make it a method or an nn.Module" in msg


def test_akamaster_resnet_fixed_as_the_error_says_traces():
    torch.manual_seed(0)
    net = CifarResNetFixed().eval()
    m = camscope.Model.from_torch(net, torch.randn(1, 3, 32, 32))
    assert m.info["from_torch"]["how"] == "traced"
    imgs = images(2, 32, seed=1)
    np.testing.assert_allclose(m.predict(imgs, progress=False).probs, live_softmax(net, imgs), rtol=0, atol=1e-5)
    maps = m.cam(imgs, progress=False)
    assert np.isfinite(maps).all() and (maps.reshape(2, -1).max(1) > 0).all()


class DictOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        h = self.conv(x).mean((2, 3))
        return {"features": h, "logits": self.fc(h)}


def test_dict_output_traces():
    from camscope._torch import to_torchscript

    torch.manual_seed(0)
    net = DictOut().eval()
    x = torch.randn(1, 3, 8, 8)
    data, how = to_torchscript(net, x)
    assert how["how"] == "traced"
    out = torch.jit.load(io.BytesIO(data))(x)
    assert set(out) == {"features", "logits"}
    torch.testing.assert_close(out["logits"], net(x)["logits"])


def test_arguments_of_the_wrong_type():
    with pytest.raises(camscope.UsageError, match="module: expected a torch.nn.Module"):
        camscope.Model.from_torch(object(), torch.zeros(1))
    with pytest.raises(camscope.UsageError, match="example_input: expected a torch.Tensor"):
        camscope.Model.from_torch(DictOut(), np.zeros((1, 3, 8, 8), np.float32))


class PixelsOnly(nn.Module):
    """Refuses values outside [0, 1]: the check's first second input (negated) is refused, the
    second (the example's values shuffled) is not."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        if bool((x < 0).any()):
            raise ValueError("expects pixels in [0, 1]")
        return self.fc(self.conv(x).mean((2, 3)))


class SortedOnly(PixelsOnly):
    """Refuses any input whose values are not in ascending order: no second input runs."""

    def forward(self, x):
        if not bool((x.flatten()[1:] >= x.flatten()[:-1]).all()):
            raise ValueError("expects ascending values")
        return self.fc(self.conv(x).mean((2, 3)))


def test_check_input_the_module_accepts():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "not checked" warning
        m = camscope.Model.from_torch(PixelsOnly().eval(), torch.rand(1, 3, 8, 8))
    check = m.info["from_torch"]["check"]
    assert m.info["from_torch"]["how"] == "traced" and check["max_abs_diff"] <= check["tolerance"]


def test_unchecked_trace_says_so():
    torch.manual_seed(0)
    x = torch.linspace(0, 1, 3 * 8 * 8).reshape(1, 3, 8, 8)
    with pytest.warns(UserWarning, match="the trace is not checked: the module's own forward fails on"):
        m = camscope.Model.from_torch(SortedOnly().eval(), x)
    skipped = m.info["from_torch"]["check"]["skipped"]
    assert "in the root module (SortedOnly)" in skipped and "ValueError: expects ascending values" in skipped

"""Fixtures shared by the Python tests (pytest loads this file beside them)."""
import os
import sys

import pytest

FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "fixtures"))


@pytest.fixture
def tiny_resnet():
    """The live module behind tests/fixtures/tiny_cifar10_model.pt: make_fixtures.py's TinyResNet
    with the file's weights, freshly built (train mode, as a new nn.Module is)."""
    import torch

    sys.path.insert(0, FIX)
    try:
        from make_fixtures import TinyResNet
    finally:
        sys.path.pop(0)
    net = TinyResNet()
    net.load_state_dict(torch.jit.load(os.path.join(FIX, "tiny_cifar10_model.pt")).state_dict())
    return net

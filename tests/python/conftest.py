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


@pytest.fixture
def thread_counts():
    """For the thread-count tests: torch set to a count the library never picks itself (more than
    one per core); yields ``(mine, seen)``, where ``seen`` collects torch.get_num_threads() at each
    progress report of a call (the library reports on the calling thread). Afterwards the package's
    progress callback and torch's count are as they were."""
    import torch

    import camscope
    from camscope import _progress

    before = torch.get_num_threads()
    mine = (os.cpu_count() or 1) + 1
    seen = []
    camscope._c._set_progress_callback(lambda *a: seen.append(torch.get_num_threads()))
    try:
        torch.set_num_threads(mine)
        yield mine, seen
    finally:
        camscope._c._set_progress_callback(_progress.event)
        torch.set_num_threads(before)

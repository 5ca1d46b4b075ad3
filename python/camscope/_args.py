"""What every part of the package takes and raises: the errors, the argument types of the public
signatures, and the checks of the numbers and indices given (whole numbers, image indices, counts,
CAM options), each raising a UsageError (or IndexError) that names the argument."""
import os
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from . import _camscope as _c

Error = _c.Error
UsageError = _c.UsageError

PathLike = Union[str, os.PathLike]
# One image or a batch: a NumPy array (uint8 H×W[×C] / N×H×W[×C], or float32 N×C×H×W normalised), a
# PIL image, a torch tensor (C×H×W / N×C×H×W), or a list of single images (the rule: camscope.Model).
Images = Union[npt.NDArray[Any], Any]
ClassRef = Union[int, str]


def _integer(v, what):
    """``v`` as an int: an int, a NumPy integer, or a float with a whole value (``9.0``); anything
    else (``9.7``, ``nan``, a string) is a UsageError naming ``what``."""
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if np.isfinite(v) and float(v).is_integer():
            return int(v)
        raise UsageError(f"{what} = {v!r} is not a whole number")
    raise UsageError(f"{what}: expected an integer, got {type(v).__name__} {v!r}")


def _integers(values, what):
    """A sequence or array of integers (see :func:`_integer`; ``what[i]`` named) as a list of ints."""
    a = np.asarray(values).reshape(-1)
    if a.dtype.kind in "iub":
        return [int(v) for v in a]
    if a.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(a) | (a != np.round(a)))
        if len(bad):
            raise UsageError(f"{what}[{bad[0]}] = {a[bad[0]].item()!r} is not a whole number")
        return [int(v) for v in a]
    return [_integer(v.item() if isinstance(v, np.generic) else v, f"{what}[{i}]") for i, v in enumerate(a)]


def _index(i, n, what="index"):
    """Image index ``i`` of a dataset of ``n`` images as 0..n-1: Python's negative indexing (-1 =
    the last image); IndexError naming ``what`` and the valid range otherwise."""
    k = _integer(i, what)
    if not -n <= k < n:
        raise IndexError(f"{what} = {k} is out of range: the dataset has {n} images "
                         f"(valid: 0..{n - 1}, or -{n}..-1 counting from the end)" if n else
                         f"{what} = {k} is out of range: the dataset has no images")
    return k + n if k < 0 else k


def _count(v, what):
    """``limit`` of predict/analyze: None or 0 (every image) or a positive whole number."""
    if v is None:
        return 0
    k = _integer(v, what)
    if k < 0:
        raise UsageError(f"{what} must be a number of images >= 0 (0 or None: every image), got {k}")
    return k


def _first(limit):
    """Dataset's ``limit``: None (every image) or a positive whole number."""
    if limit is None:
        return None
    k = _integer(limit, "limit")
    if k <= 0:
        raise UsageError(f"limit must be a positive number of images (None: all), got {k}")
    return k


def _cam_options(method, alpha, contrast, max_channels):
    """The checked CAM options shared by Model.cam, analyze and analyze_shard: max_channels in
    0..2^31-1 (the C++ int it becomes). Returns (alpha, max_channels)."""
    k = _integer(max_channels, "max_channels")
    if not 0 <= k < 2 ** 31:
        raise UsageError(f"max_channels must be an integer in 0..{2 ** 31 - 1} (0 = every channel; N = the N most "
                         f"active channels, for scorecam and ablationcam), got {k}")
    # alpha's range and method, and contrast's: the library's check_cam_settings, as for every edge.
    return (1.0 if alpha is None else float(alpha)), k


def _check_batch(batch_size):
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise UsageError(f"batch_size must be a positive integer, got {batch_size!r}")

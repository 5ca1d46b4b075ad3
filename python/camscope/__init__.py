"""camscope in Python: the C++ library's models, datasets, CAMs, reports and explorer.

    import camscope
    report = camscope.analyze(camscope.Model.from_torch(net, x[:1]), camscope.Dataset.from_torchvision(testset))
    report            # the summary and figures inline in Jupyter
    camscope.explore(report)   # the interactive explorer in an IFrame

Everything is computed by the library the ``camscope`` command runs (same numbers, same files);
this package converts arguments and results. Errors are ``camscope.Error`` (bad data, a model that
does not fit) and ``camscope.UsageError`` (an impossible request; also a ``ValueError``), with the
CLI's messages and this package's argument names; an image index out of range is an ``IndexError``.
CAMs and analyses enable autograd themselves: they work inside ``torch.no_grad()``,
``torch.inference_mode()`` and ``torch.set_grad_enabled(False)``, which stay as they were. Long calls
show a progress bar (``progress=False``: none) and stop on Ctrl-C / a kernel interrupt with
KeyboardInterrupt, leaving nothing half-written: in Jupyter an HTML bar updated in place (no
ipywidgets, so headless runs such as ``jupyter execute`` work), on a terminal one redrawn line, in a
log a line per tenth of the work. Tables (``Report.per_class``, ``pairs``, ``label_errors``,
``Report.table``, ``Predictions.table``) are pandas DataFrames when pandas is installed, lists of dicts
otherwise. ``__version__`` is the library's (``camscope --version``).
"""
from . import _camscope as _c
from . import _progress
from ._args import ClassRef, Error, Images, PathLike, UsageError  # ClassRef, Images, PathLike: the signatures' types
from ._data import Dataset
from ._explore import NOTEBOOK_FRAME_ANCESTORS, Explorer, explore, widget
from ._model import Layer, Model, Predictions, cam_methods
from ._report import Report, analyze, analyze_shard
from ._rescore import rescore

_c._set_progress_callback(_progress.event)

__version__: str = _c.__version__  # CMakeLists.txt's project(VERSION), as `camscope --version` prints it

__all__ = ["Model", "Dataset", "Report", "Explorer", "Predictions", "Layer", "analyze", "analyze_shard", "explore", "widget",
           "rescore", "cam_methods", "Error", "UsageError"]


def __dir__():
    """The public API only (what ``from camscope import *`` gives, and ``__version__``): not the
    package's submodules nor what they import. The signatures' type aliases (ClassRef, Images,
    PathLike) and NOTEBOOK_FRAME_ANCESTORS (explore's default) stay reachable as attributes."""
    return sorted(__all__ + ["__version__"])

"""camscope.Report and the calls that make one: analyze (as ``camscope analyze``) and
analyze_shard (as ``camscope analyze --shard``)."""
from __future__ import annotations

import base64
import html
import json
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _camscope as _c
from ._args import PathLike, UsageError, _cam_options, _check_batch, _count, _integer
from ._data import Dataset
from ._model import Model

if TYPE_CHECKING:
    from ._explore import Explorer


class Report:
    """The analysis of a model on a dataset (as ``camscope analyze``): the figures as Python objects,
    the same numbers summary.json holds (``summary``), and the report files when written."""

    model: Model
    data: Dataset
    summary: Dict[str, Any]
    out: Optional[str]
    files: List[str]

    def __init__(self, r: Any, model: Model, data: Dataset, out: Optional[PathLike], progress: bool = True) -> None:
        self._r, self.model, self.data = r, model, data
        self.summary = json.loads(r.summary_json)
        self.out = None
        self.files = []
        if out is not None:
            self.write(out, progress=progress)

    # The figures
    @property
    def accuracy(self) -> float:
        """Top-1 accuracy (a fraction)."""
        return self.summary["overall"]["top1"]

    @property
    def top5(self) -> float:
        """Top-5 accuracy (a fraction; top-K for fewer than 5 classes)."""
        return self.summary["overall"]["top5"]

    @property
    def n(self) -> int:
        """Images analysed."""
        return int(self.summary["overall"]["correct"] + self.summary["overall"]["errors"])

    @property
    def per_class(self) -> List[Dict[str, Any]]:
        """One dict per class: name, support, accuracy, precision, recall, F1, ..."""
        return self.summary["per_class"]

    @property
    def confusion(self) -> npt.NDArray[np.int64]:
        """The confusion matrix, K×K int64: counts[true, pred]."""
        return self._r.confusion()

    @property
    def pairs(self) -> List[Dict[str, Any]]:
        """The confused directed pairs (true -> predicted), most frequent first, with counts and rates."""
        return self.summary["pairs"]["directed"]

    @property
    def calibration(self) -> Dict[str, Any]:
        """ECE, MCE, reliability bins, the fitted temperature."""
        return self.summary["calibration"]

    @property
    def label_errors(self) -> List[Dict[str, Any]]:
        """Likely label errors (candidates), strongest first."""
        return self.summary["label_issues"]["items"]

    @property
    def recommendations(self) -> List[Dict[str, Any]]:
        """What to try, each quoting the measured figures that triggered it (rule, text, figures)."""
        return self.summary["recommendations"]

    def figures(self) -> Dict[str, bytes]:
        """The main figures as PNG bytes: confusion_matrix, top_confused_pairs, reliability_diagram
        (and likely_label_errors when there are candidates), drawn by the report's own code."""
        return dict(self._r.figures())

    def text(self) -> str:
        """The summary the CLI prints after ``analyze``."""
        return self._r.terminal_summary()

    def write(self, out: PathLike, *, progress: bool = True) -> List[str]:
        """Writes the whole report folder (as ``camscope analyze --out``); returns the file paths.
        Built beside ``out`` and swapped in when complete: on any failure or Ctrl-C, ``out`` is as it
        was."""
        out = os.fspath(out)
        self._r.write(out, bool(progress))
        self.out = out
        self.files = sorted(os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs)
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            self.summary = json.load(f)
        return self.files

    def explore(self, **kw: Any) -> Explorer:
        """The interactive explorer of this report (see :func:`explore`)."""
        from ._explore import explore  # (it imports this module)

        return explore(self, **kw)

    def __repr__(self) -> str:
        return f"camscope.Report(top-1 {self.accuracy:.4f}" + (f", written to {self.out!r})" if self.out else ")")

    def _repr_html_(self) -> str:
        s = self.summary
        ov = s["overall"]
        rows = [("images", f"{ov.get('correct', 0) + ov.get('errors', 0)}"),
                ("top-1 accuracy", f"{100 * ov['top1']:.2f} %"), ("top-5 accuracy", f"{100 * ov['top5']:.2f} %")]
        cal = self.calibration or {}
        if isinstance(cal, dict) and "ece" in cal:
            rows.append(("ECE", f"{cal['ece']:.4f}"))
        table = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                        for k, v in rows)
        figs = "".join(
            f"<figure style='display:inline-block;margin:4px'><img style='max-width:420px' "
            f"src='data:image/png;base64,{base64.b64encode(b).decode()}'/><figcaption>{html.escape(k)}</figcaption>"
            "</figure>" for k, b in self.figures().items())
        text = html.escape(self.text())
        where = f"<p>report folder: <code>{html.escape(self.out)}</code></p>" if self.out else ""
        return (f"<div class='camscope-report'><h3>camscope report</h3><table>{table}</table>{where}"
                f"<details><summary>summary</summary><pre>{text}</pre></details>{figs}</div>")


def _pass_inputs(model, data, batch_size, chunk):
    """What analyze and analyze_shard start from: the checked sizes, a Model and a Dataset (paths
    opened), the input spec and the dataset fitted to the model."""
    _check_batch(batch_size)
    if int(chunk) <= 0:
        raise UsageError(f"chunk must be > 0, got {chunk}")
    if not isinstance(model, Model):
        model = Model(model)
    if not isinstance(data, Dataset):
        data = Dataset(data)
    spec = model._spec(data=data)
    return model, model._fit(data, spec), spec


def analyze(model: Union[Model, PathLike], data: Union[Dataset, PathLike], out: Optional[PathLike] = None, *,
            layer: Optional[str] = None, method: str = "gradcam", limit: Optional[int] = None,
            faithfulness_n: Optional[int] = None, batch_size: int = 64, eigen_smooth: bool = False,
            aug_smooth: bool = False, max_channels: int = 0, alpha: Optional[float] = None, store: bool = False,
            resume: bool = False, chunk: int = 4096, progress: bool = True, **options: Any) -> Report:
    """The full analysis of ``model`` (a :class:`Model`, or a path) on ``data`` (a :class:`Dataset`, or
    a path), as ``camscope analyze`` (the same library function): returns a :class:`Report`; with
    ``out``, also writes the report folder there. Report options: worst, best, high_conf, low_conf,
    top_pairs, pair_figures, row_normalised (the CLI's --worst, --best, ...). ``faithfulness_n``:
    images of the quick CAM faithfulness check (None: the CLI's default, capped; 0: off).
    ``max_channels`` and ``alpha`` (finercam only) as in :meth:`Model.cam`. Works inside
    ``torch.no_grad()`` / ``torch.inference_mode()`` (see :meth:`Model.cam`).

    ``store=True``: the report folder also holds the analysis store, ``store/`` (the per-image
    results as .npy + manifest.json, what ``camscope compare`` and ``camscope merge`` read), as the
    CLI writes it; with ``out``, the pass keeps its chunks of ``chunk`` images in ``<out>.partial/``
    until the report is written, and ``resume=True`` continues a killed run from them (the CLI's
    ``--resume``)."""
    if resume and (out is None or not store):
        raise UsageError("resume=True needs out and store=True: the chunks it continues from are kept in <out>.partial/")
    alpha, max_channels = _cam_options(method, alpha, None, max_channels)
    limit = _count(limit, "limit")
    model, ds, spec = _pass_inputs(model, data, batch_size, chunk)
    chunk_dir = _c.chunk_folder(os.fspath(out)) if (store and out is not None) else ""
    r = _c.analyze(model._m, ds._d, spec, layer or "", method, bool(eigen_smooth), bool(aug_smooth),
                   max_channels, alpha, batch_size, limit,
                   None if faithfulness_n is None else int(faithfulness_n), options, bool(store), chunk_dir,
                   bool(resume), int(chunk), bool(progress))
    return Report(r, model, ds, out, progress)


def analyze_shard(model: Union[Model, PathLike], data: Union[Dataset, PathLike], out: PathLike, shard: Tuple[int, int], *,
                  layer: Optional[str] = None, method: str = "gradcam", limit: Optional[int] = None,
                  batch_size: int = 64, eigen_smooth: bool = False, aug_smooth: bool = False, max_channels: int = 0,
                  alpha: Optional[float] = None, resume: bool = False, chunk: int = 4096,
                  progress: bool = True) -> Dict[str, Any]:
    """Slice ``shard = (k, n)`` (0-based k of n) of the analysis, as ``camscope analyze --shard k/n``
    (the same library function): only its pass, written as a store to ``out`` (the same bytes as the
    CLI's shard), for ``camscope merge`` with the other shards. ``resume=True`` continues a killed
    run from its chunks in ``<out>.partial/``. Returns the store's manifest (a dict)."""
    k, n = (_integer(v, "shard") for v in shard)
    alpha, max_channels = _cam_options(method, alpha, None, max_channels)
    limit = _count(limit, "limit")
    model, ds, spec = _pass_inputs(model, data, batch_size, chunk)
    out = os.fspath(out)
    _c.analyze_shard(model._m, ds._d, spec, out, k, n, layer or "", method, bool(eigen_smooth), bool(aug_smooth),
                     max_channels, alpha, batch_size, limit, bool(resume), int(chunk), bool(progress))
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


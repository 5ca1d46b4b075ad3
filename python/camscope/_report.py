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
from ._tables import Table, rows_table

# Report.table's tables: name -> (where in summary.json, the class-index columns that get a name
# column beside them (column -> name column), the columns that lead). Failure modes are nested
# (groups of modes): Report.failure_modes flattens them.
_TABLES = {
    "per_class": (("per_class",), {"most_confused_with": "most_confused_with_name"},
                  ("index", "name", "support", "accuracy", "accuracy_ci", "precision", "precision_ci", "f1")),
    "pairs": (("pairs", "directed"), {"true": "true_name", "pred": "pred_name"},
              ("true", "true_name", "pred", "pred_name", "count", "rate", "rate_ci")),
    "symmetric_pairs": (("pairs", "symmetric"), {"a": "a_name", "b": "b_name"}, ("a", "a_name", "b", "b_name", "count")),
    "label_errors": (("label_issues", "items"), {}, ("index", "given", "given_name", "suggested", "suggested_name")),
    "high_confidence_errors": (("high_confidence_errors", "items"), {},
                               ("index", "label", "label_name", "pred", "pred_name", "confidence")),
    "low_confidence_correct": (("low_confidence_correct", "items"), {},
                               ("index", "label", "label_name", "pred", "pred_name", "confidence")),
    "flips": (("flip_test", "rows"), {"true": "true_name", "pred": "pred_name", "after": "after_name"},
              ("index", "true", "true_name", "pred", "pred_name", "after", "after_name", "kind", "outcome")),
}

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

    def table(self, name: str, frame: Optional[bool] = None) -> Table:
        """One of the report's tables: a pandas DataFrame when pandas can be imported (``frame=None``),
        else a list of dicts; ``frame=True``: a DataFrame (ImportError without pandas), ``frame=False``:
        the list. The columns are summary.json's keys (``summary``, the one home of these names); a
        DataFrame flattens nested ones into dotted columns (``focus.centre_share_correct``), the list
        keeps the summary's dicts (copies). Class indices come with their names (from the report's
        classes) in the ``*_name`` columns beside them.

        - ``"per_class"``: one row per class: index, name, support, accuracy (the class's recall),
          precision, f1, predicted, correct, mean_confidence, most_confused_with (a class index or None),
          most_confused_with_name, most_confused_count, focus (the CAM focus), degenerate_cams, gallery
          (its PNG).
        - ``"pairs"``: the confused directed pairs true -> pred (errors only), most frequent first:
          true, true_name, pred, pred_name, count, rate (count / images of the true class).
        - ``"symmetric_pairs"``: the pairs either way round: a, a_name, b, b_name, count, count_ab,
          count_ba, rate.
        - ``"label_errors"``: likely label errors, strongest first: index (dataset index), row, given,
          given_name, suggested, suggested_name, p_given, p_suggested, margin.
        - ``"high_confidence_errors"``, ``"low_confidence_correct"``: index, row, label, label_name, pred,
          pred_name, confidence, p_true and the CAM flags.
        - ``"flips"``: the flip test's tested errors (:attr:`flips`): index, true, pred, after (the
          prediction with the evidence removed), their names, kind ("distractor", "missing",
          "unstable"), outcome, row, confidence, p_after, p_pred_after, p_true_after.

        The failure modes have their own table (:attr:`failure_modes`). Predictions of a model have their own table
        (:meth:`Predictions.table`)."""
        if name not in _TABLES:
            raise UsageError(f"table: no table {name!r} in a report; the tables: {', '.join(_TABLES)}")
        path, named, first = _TABLES[name]
        rows: Any = self.summary
        for key in path:
            rows = rows.get(key, {}) if isinstance(rows, dict) else {}
        rows = rows if isinstance(rows, list) else []
        if named:
            classes = self.summary.get("classes", [])

            def class_name(i: Any) -> Optional[str]:
                return classes[i] if isinstance(i, int) and 0 <= i < len(classes) else None

            rows = [dict(r, **{col: class_name(r.get(idx)) for idx, col in named.items()}) for r in rows]
        return rows_table(rows, frame, first)

    @property
    def flips(self) -> Optional[Dict[str, Any]]:
        """The flip test (summary.json's ``"flip_test"``; None when it did not run): for a sample of the
        errors, the top ``fraction`` of the predicted class's CAM removed (ROAD's noisy linear
        imputation) and the model run again. Keys: ``headline``, ``fraction``, ``method``,
        ``selection``, ``errors``, ``tested``, the counts ``distractor`` (back to the true class),
        ``missing`` (still wrong), ``unstable`` (a third class) and their ``*_share``, ``per_class``,
        ``per_pair`` and ``rows`` (also as ``table("flips")``)."""
        f = self.summary.get("flip_test")
        return f if isinstance(f, dict) else None

    @property
    def per_class(self) -> Table:
        """One row per class: name, support, accuracy (recall), accuracy_ci, precision, precision_ci, f1, ...
        (``table("per_class")``: a DataFrame with pandas, else a list of dicts). Each ``*_ci`` is the
        figure's 95 % interval ``[lo, hi]`` (Wilson; ``None`` without images), as summary.json has it."""
        return self.table("per_class")

    @property
    def confusion(self) -> npt.NDArray[np.int64]:
        """The confusion matrix, K×K int64: counts[true, pred]."""
        return self._r.confusion()

    @property
    def pairs(self) -> Table:
        """The confused directed pairs (true -> pred) with the classes' names, most frequent first, with
        counts, rates and the rates' 95 % Wilson intervals ``rate_ci`` ``[lo, hi]`` (``table("pairs")``: a
        DataFrame with pandas, else a list of dicts)."""
        return self.table("pairs")

    @property
    def failure_modes(self) -> Table:
        """The errors grouped by where the model looks (summary.json's ``failure_modes``), one row per
        mode: kind ("class": the errors of class ``true``; "pair": those of ``true`` predicted as
        ``pred``), true, true_name, pred, pred_name (None for a class), id, mode (1-based in its group),
        group_errors, k, best_silhouette, errors, share, mean_confidence, centre_share, evidence_area,
        location, description, goes_to, typical_indices (dataset indices), rows (report rows), file
        (the group's sheet). Empty when the report has none (a DataFrame with pandas, else a list of
        dicts)."""
        fm = self.summary.get("failure_modes") or {}
        out = []
        for g in fm.get("groups", []):
            for m in g.get("modes", []):
                out.append(dict(m, kind=g["kind"], true=g["true"], true_name=g["true_name"], pred=g.get("pred"),
                                pred_name=g.get("pred_name"), group_errors=g["errors"], k=g["k"],
                                best_silhouette=g["best_silhouette"], file=g["file"]))
        return rows_table(out, None, ("kind", "true", "true_name", "pred", "pred_name", "id", "mode", "errors",
                                      "share", "description"))

    @property
    def failure_mode_of_row(self) -> npt.NDArray[np.int64]:
        """Per analysed image (report row), the ``id`` of its mode among the class groups of
        :attr:`failure_modes`; -1 for correct images and errors of classes without a group."""
        out = np.full(self.n, -1, dtype=np.int64)
        for g in (self.summary.get("failure_modes") or {}).get("groups", []):
            if g["kind"] == "class":
                for m in g["modes"]:
                    out[np.asarray(m["rows"], dtype=np.int64)] = m["id"]
        return out

    @property
    def calibration(self) -> Dict[str, Any]:
        """ECE, MCE, reliability bins, the fitted temperature."""
        return self.summary["calibration"]

    @property
    def label_errors(self) -> Table:
        """Likely label errors (candidates), strongest first, with the given and suggested classes' names
        (``table("label_errors")``: a DataFrame with pandas, else a list of dicts)."""
        return self.table("label_errors")

    @property
    def sanity(self) -> Optional[Dict[str, Any]]:
        """The sanity gate of the report's maps (Adebayo et al. 2018), as summary.json's ``"sanity"``:
        ``passed``, ``threshold`` (on the mean Spearman correlation), ``n_images``, ``seed``, ``cascade``
        (one dict per step, output end first: ``layer`` randomised down to, ``modules_randomised``,
        ``n``, ``blank``, ``spearman``, ``ssim``) and ``random_logit`` (the same for a random other
        class's maps); None when it did not run (``sanity_images=0``)."""
        return self.summary.get("sanity")

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
        was. ``progress``: bars while the galleries, pair figures and explorer images are drawn."""
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
            layer: Union[str, Any, None] = None, method: str = "gradcam", limit: Optional[int] = None,
            faithfulness_n: Optional[int] = None, batch_size: int = 64, eigen_smooth: bool = False,
            aug_smooth: bool = False, max_channels: int = 0, alpha: Optional[float] = None, store: bool = False,
            resume: bool = False, chunk: int = 4096, progress: bool = True, **options: Any) -> Report:
    """The full analysis of ``model`` on ``data``, as ``camscope analyze`` (the same library function):
    returns a :class:`Report`; with ``out``, also writes the report folder there (as ``--out``).
    Works inside ``torch.no_grad()`` / ``torch.inference_mode()`` (see :meth:`Model.cam`).

    Args:
        model: a :class:`Model`, or the path of a TorchScript file (``-m``).
        data: a :class:`Dataset`, or a path the CLI's ``-d`` reads.
        out: the report folder to write (None: in memory only; :meth:`Report.write` writes it later).
            Built beside ``out`` and swapped in when complete.
        layer: the CAM layer, a path from :meth:`Model.layers` or, for a :meth:`Model.from_torch`
            model, the submodule itself (``layer=net.layer4``); None: the last spatial layer.
        method: the CAM method, one of :func:`cam_methods` (``--method``).
        limit: analyse the first ``limit`` images only (None: all).
        faithfulness_n: images of the quick CAM faithfulness check (None: the CLI's default, capped to
            about 1/8 of the pass's cost; 0: off).
        batch_size: images per forward/backward batch (> 0; memory grows with it, results do not change).
        eigen_smooth: reduce the method's weighted activations by their first principal component
            instead of their sum (less noise), as ``--eigen-smooth``.
        aug_smooth: test-time augmentation (horizontal flip x brightness 0.9/1.0/1.1, maps flipped back
            and averaged; 6x the cost), as ``--aug-smooth``.
        max_channels: scorecam and ablationcam: 0 = every channel, N = the N most active ones (each
            channel costs a forward per image).
        alpha: finercam only (default 1): the comparison strength in y_target - alpha * y_contrast.
        store: also keep the analysis store, ``<out>/store/`` (the per-image results as .npy +
            manifest.json, what ``camscope compare`` and ``camscope merge`` read), as the CLI's report
            always has; with ``out``, the pass keeps its chunks in ``<out>.partial/`` until the report is
            written.
        resume: continue a killed run from its chunks in ``<out>.partial/`` (needs ``out`` and
            ``store=True``), as ``--resume``.
        chunk: images per chunk of the pass (rounded up to whole batches): what ``resume`` continues from.
        progress: show progress bars (a bar in Jupyter, a line on stderr; see the package's docstring).
        **options: the report's options, as the CLI's flags of the same name:
            ``worst`` (5): misclassifications per class gallery; ``best`` (3): confident correct
            predictions per class gallery; ``high_conf`` (0.9): confidence at or above which an error is
            "high-confidence"; ``low_conf`` (0.5): confidence below which a correct prediction is
            "low-confidence"; ``top_pairs`` (15): bars in top_confused_pairs.png; ``pair_figures`` (5):
            confused_pair_*.png figures; ``row_normalised`` (False): confusion_matrix_full.png as shares
            of each true class; ``flip_n`` (None: up to 1000, at most max(16, images/16)): errors for the
            flip test (0: off; :attr:`Report.flips`), ``flip_fraction`` (0.2): the share of pixels it
            removes;
            ``sanity_images`` (16): images of the sanity gate of the maps (0 = off,
            see :attr:`Report.sanity`); ``sanity_threshold`` (0.5): the mean Spearman correlation at or
            above which it fails. Another name is a UsageError.

    Raises:
        UsageError: an impossible request (an argument out of range, ``resume`` without ``out`` and
            ``store``, an unknown option); Error: data or a model that does not fit."""
    if resume and (out is None or not store):
        raise UsageError("resume=True needs out and store=True: the chunks it continues from are kept in <out>.partial/")
    alpha, max_channels = _cam_options(method, alpha, None, max_channels)
    limit = _count(limit, "limit")
    model, ds, spec = _pass_inputs(model, data, batch_size, chunk)
    chunk_dir = _c.chunk_folder(os.fspath(out)) if (store and out is not None) else ""
    layer = "" if layer is None else model._layer_path(layer, "layer")
    r = _c.analyze(model._m, ds._d, spec, layer, method, bool(eigen_smooth), bool(aug_smooth),
                   max_channels, alpha, batch_size, limit,
                   None if faithfulness_n is None else int(faithfulness_n), options, bool(store), chunk_dir,
                   bool(resume), int(chunk), bool(progress))
    return Report(r, model, ds, out, progress)


def analyze_shard(model: Union[Model, PathLike], data: Union[Dataset, PathLike], out: PathLike, shard: Tuple[int, int], *,
                  layer: Union[str, Any, None] = None, method: str = "gradcam", limit: Optional[int] = None,
                  batch_size: int = 64, eigen_smooth: bool = False, aug_smooth: bool = False, max_channels: int = 0,
                  alpha: Optional[float] = None, resume: bool = False, chunk: int = 4096,
                  progress: bool = True) -> Dict[str, Any]:
    """Slice ``shard = (k, n)`` (0-based k of n) of the analysis, as ``camscope analyze --shard k/n``
    (the same library function): only its pass, written as a store to ``out`` (the same bytes as the
    CLI's shard), for ``camscope merge`` with the other shards. Returns the store's manifest (a dict).

    Args:
        model, data, layer, method, limit, batch_size, eigen_smooth, aug_smooth, max_channels, alpha,
            chunk, progress: as in :func:`analyze` (every shard of a run must be given the same).
        out: the store folder this shard writes.
        shard: ``(k, n)``: this process computes slice k (0-based) of n.
        resume: continue a killed run from its chunks in ``<out>.partial/``."""
    k, n = (_integer(v, "shard") for v in shard)
    alpha, max_channels = _cam_options(method, alpha, None, max_channels)
    limit = _count(limit, "limit")
    model, ds, spec = _pass_inputs(model, data, batch_size, chunk)
    out = os.fspath(out)
    layer = "" if layer is None else model._layer_path(layer, "layer")
    _c.analyze_shard(model._m, ds._d, spec, out, k, n, layer, method, bool(eigen_smooth), bool(aug_smooth),
                     max_channels, alpha, batch_size, limit, bool(resume), int(chunk), bool(progress))
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


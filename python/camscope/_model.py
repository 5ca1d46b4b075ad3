"""camscope.Model: a TorchScript classifier (a file, or a live module from PyTorch) run by the C++
engine: its input spec, layers, predictions (camscope.Predictions) and CAM maps."""
from __future__ import annotations

import io
import os
from typing import Any, Dict, Iterable, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _camscope as _c
from ._args import (ClassRef, Images, PathLike, UsageError, _cam_options, _check_batch, _count, _index, _integer,
                    _integers)
from ._data import Dataset


def _logits_selector(logits: Union[int, str, None]) -> str:
    """Model(logits=...) as the engine's selector text: "" automatic, an index, or a dict key."""
    if logits is None:
        return ""
    if isinstance(logits, bool) or not isinstance(logits, (int, str)) or logits == "":
        raise UsageError(f"logits must be an index (int) or a key (str) of the model's output, got {logits!r}")
    return str(logits)


def cam_methods() -> List[str]:
    """Names of the CAM methods (``method=`` of :meth:`Model.cam` and :func:`analyze`)."""
    return list(_c.cam_methods())


class Predictions:
    """Per image: ``logits`` N×K, ``probs`` N×K (softmax), ``pred`` N, ``confidence`` N; for a
    dataset also ``labels`` N and ``indices`` N (dataset indices)."""

    logits: npt.NDArray[np.float32]
    probs: npt.NDArray[np.float32]
    pred: npt.NDArray[np.int64]
    confidence: npt.NDArray[np.float32]
    labels: Optional[npt.NDArray[np.int32]]
    indices: Optional[npt.NDArray[np.int32]]

    def __init__(self, logits: npt.NDArray[np.float32], probs: npt.NDArray[np.float32],
                 labels: Optional[npt.NDArray[Any]] = None, indices: Optional[npt.NDArray[Any]] = None) -> None:
        self.logits, self.probs = logits, probs
        self.pred = np.argmax(probs, axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
        self.confidence = probs[np.arange(len(probs)), self.pred] if len(probs) else np.zeros(0, np.float32)
        self.labels, self.indices = labels, indices

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy (needs labels)."""
        if self.labels is None:
            raise UsageError("accuracy needs labels: predict a camscope.Dataset")
        return float(np.mean(self.pred == self.labels)) if len(self.pred) else 0.0

    def __len__(self) -> int:
        return len(self.pred)

    def __repr__(self) -> str:
        acc = f", accuracy {self.accuracy:.4f}" if self.labels is not None else ""
        return f"camscope.Predictions({len(self)} images{acc})"


class Model:
    """A TorchScript classifier (traced or scripted; camscope's own checkpoints too) loaded by the
    C++ engine. ``input_size`` (H, W), ``mean``/``std`` or ``norm`` (a preset: cifar10, cifar100,
    mnist, fashion-mnist, imagenet) set the input as the CLI's --input-size/--mean/--std/--norm do.

    Normalisation, the first that applies (the library's one rule, as the CLI's): the data's own (a
    torchvision transform's Normalize: fed as it is), ``mean``/``std``/``norm``, the model's
    camscope metadata, the dataset's preset (CIFAR and IDX files, a folder named after a preset; for
    a model file only: a :meth:`from_torch` module gets none), else none (pixels in [0, 1]). Every
    report states which was used and why (``Report.summary["identity"]["input"]["normalisation"]``;
    :meth:`input_spec` before a call).

    ``threads``: 0 (the default) runs with PyTorch's setting (``torch.get_num_threads()``; this
    process shares its libtorch), N > 0 with N threads (at most one per core) during this model's
    calls only. Either way PyTorch's thread count is as it was after every call.

    ``logits``: for a model whose forward returns a tuple, list or dict, which element holds the
    logits: an index (``logits=1``, ``-1`` = the last) or a key (``logits="logits"``). None (the
    default): a tensor output as it is, else the one floating N×K element; an ambiguous output is
    refused, naming every element and its shape (one level: nested containers are not searched)."""

    def __init__(self, path: PathLike, *, device: str = "cpu", threads: int = 0,
                 input_size: Optional[Tuple[int, int]] = None, mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, norm: Optional[str] = None, quiet: bool = True,
                 logits: Union[int, str, None] = None) -> None:
        self._m = _c._Model.load(os.fspath(path), device, int(threads), bool(quiet), _logits_selector(logits))
        self._init(input_size, mean, std, norm, quiet)

    def _init(self, input_size, mean, std, norm, quiet):
        self._ov = dict(input_size=input_size, mean=mean, std=std, norm=norm or "")
        self._quiet = quiet
        self._fitted = {}

    @classmethod
    def from_torch(cls, module: Any, example_input: Any, *, script: bool = False, name: Optional[str] = None,
                   device: str = "cpu", threads: int = 0, input_size: Optional[Tuple[int, int]] = None,
                   mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                   norm: Optional[str] = None, quiet: bool = True, logits: Union[int, str, None] = None) -> Model:
        """A live ``torch.nn.Module``: traced with ``example_input`` (or scripted with
        ``script=True``) in eval mode, serialized with ``torch.jit.save`` into memory, and handed as
        bytes to the C++ loader (no tensors cross the boundary: any torch version works)."""
        import torch

        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                ts = torch.jit.script(module) if script else torch.jit.trace(module, example_input, strict=False)
        finally:
            module.train(was_training)
        buf = io.BytesIO()
        torch.jit.save(ts, buf)
        obj = cls.__new__(cls)
        obj._m = _c._Model.load_bytes(buf.getvalue(), name or f"<{type(module).__name__}>", device, int(threads),
                                      bool(quiet), _logits_selector(logits))
        obj._init(input_size, mean, std, norm, quiet)
        return obj

    @property
    def info(self) -> Dict[str, Any]:
        """path, kind, class_names (camscope metadata), input (its spec, if recorded), train_mode_baked."""
        return self._m.info()

    @property
    def class_names(self) -> List[str]:
        """The class names of the model's camscope metadata (empty for other models)."""
        return list(self._m.info()["class_names"])

    def __repr__(self) -> str:
        i = self.info
        return f"camscope.Model({i['path']!r}, {i['kind']})"

    # -- input
    def _spec(self, data=None, images=None, channels=None):
        if data is not None:
            return self._m.spec(data._d, **self._ov)
        c = h = w = 0
        if images is not None:
            a = np.asarray(images)
            if a.dtype.kind == "f" and a.ndim != 4:
                raise UsageError(f"images: a float array must be N×C×H×W (already normalised), got {a.ndim} dimensions")
            if a.dtype.kind == "f":
                c, h, w = a.shape[1:]
            elif a.ndim == 4:
                h, w, c = a.shape[1:]
            elif a.ndim == 3:
                h, w, c = a.shape[1], a.shape[2], 1
            else:
                raise UsageError(f"images: expected uint8 N×H×W×C / N×H×W or float N×C×H×W, got shape {a.shape}")
            if h == 0 or w == 0 or c == 0:
                raise UsageError(f"images: images without pixels (shape {a.shape})")
        elif channels:
            c = int(channels)
        return self._m.spec(None, channels=int(c), height=int(h), width=int(w), **self._ov)

    def _fit(self, data, spec):
        key = (id(data._d), tuple(spec["mean"]), tuple(spec["std"]), spec["height"], spec["width"])
        hit = self._fitted.get(key)
        if hit is None or hit[0] is not data._d:
            hit = (data._d, Dataset._wrap(self._m.fit(data._d, spec, self._quiet)))
            self._fitted[key] = hit
        return hit[1]

    # -- the API
    def input_spec(self, data: Union[Dataset, Images, None] = None) -> Dict[str, Any]:
        """What this model is fed for ``data`` (a :class:`Dataset`, or images; None: the model's own
        metadata and arguments): channels, height, width, mean, std, and ``normalisation``: where
        mean/std came from ("model metadata", "dataset preset cifar10 (...)", "user mean/std",
        "already normalised by the torchvision transform (Normalize)", "none ...")."""
        if isinstance(data, Dataset):
            return dict(self._spec(data=data))
        return dict(self._spec(images=data)) if data is not None else dict(self._spec())

    def layers(self, data: Union[Dataset, Images, None] = None, *, input_size: Optional[Tuple[int, int]] = None,
               channels: Optional[int] = None) -> List[Tuple[str, str, List[int]]]:
        """Every submodule in call order as ``(path, type, output shape)`` for one input of the size
        the model's metadata, ``data`` (a Dataset or images) or ``input_size`` + ``channels`` give."""
        if isinstance(data, Dataset):
            spec = self._spec(data=data)
        elif data is not None:
            spec = self._spec(images=data)
        else:
            ov = self._ov if input_size is None else dict(self._ov, input_size=tuple(input_size))
            spec = self._m.spec(None, channels=int(channels or 0), height=0, width=0, **ov)
        return [tuple(x) for x in self._m.layers(spec)]

    def predict(self, images: Union[Dataset, Images], *, batch_size: int = 64, limit: Optional[int] = None,
                indices: Optional[Iterable[int]] = None, progress: bool = True) -> Predictions:
        """Predictions for a :class:`Dataset` (as ``camscope predict``: every image, or the first
        ``limit``, or ``indices``: dataset indices, negative ones counting from the end) or for images
        (uint8 N×H×W×C / N×H×W, normalised by the model's input spec; or float32 N×C×H×W taken as
        already normalised, without a copy when C-contiguous). An empty batch (N = 0, either dtype,
        or ``indices=[]``) gives empty predictions (logits 0×K)."""
        _check_batch(batch_size)
        if isinstance(images, Dataset):
            spec = self._spec(data=images)
            ds = self._fit(images, spec)
            idx = None if indices is None else [_index(i, len(ds), f"indices[{k}]") for k, i in enumerate(indices)]
            if idx == []:  # predict_dataset reads an empty list as "every image"
                logits, probs = self._m.predict_arrays(
                    np.zeros((0, spec["channels"], spec["height"], spec["width"]), np.float32), spec, batch_size, False)
                return Predictions(logits, probs, np.zeros(0, np.int32), np.zeros(0, np.int32))
            logits, probs, idx, labels = self._m.predict_dataset(
                ds._d, spec, batch_size, _count(limit, "limit"), idx or [], bool(progress))
            return Predictions(logits, probs, labels, idx)
        images = np.asarray(images)
        spec = self._spec(images=images)
        logits, probs = self._m.predict_arrays(images, spec, batch_size, bool(progress))
        return Predictions(logits, probs)

    def cam(self, images: Union[Dataset, Images],
            targets: Union[Literal["pred", "true"], ClassRef, Sequence[ClassRef]] = "pred", method: str = "gradcam",
            layer: Union[str, Sequence[str], None] = None, *, labels: Optional[Sequence[int]] = None,
            indices: Optional[Iterable[int]] = None, contrast: Optional[Sequence[Any]] = None,
            alpha: Optional[float] = None, eigen_smooth: bool = False, aug_smooth: bool = False, max_channels: int = 0,
            raw: bool = False, batch_size: int = 64, progress: bool = True, return_predictions: bool = False) -> Any:
        """CAM maps N×H×W (float32, at the model's input size, in [0, 1] unless ``raw``), equal to
        what ``camscope cam`` writes to cams.npy for the same images and options.

        images: a :class:`Dataset` (with ``indices``, default all) or an array (see :meth:`predict`).
        targets: "pred" (each image's prediction), "true" (its label: a Dataset, or ``labels=``), a
        class index or name for every image, or a sequence with one index or name per image.
        method: one of :func:`cam_methods`. layer: a layer path, a list of paths (maps fused), or
        None (the last spatial layer). contrast (finercam): the comparison classes, one list for
        every image or one per image; "true" stands for the image's label. alpha (finercam only;
        default 1): the comparison strength in y_target - alpha * y_contrast. max_channels
        (scorecam, ablationcam): 0 = every channel, N = the N most active. indices: dataset indices,
        negative ones counting from the end. labels and class indices: whole numbers (3.0 is 3;
        3.7 is refused). An empty batch (N = 0, either dtype, or ``indices=[]``) gives maps 0×H×W.
        Works inside ``torch.no_grad()`` / ``torch.inference_mode()``: the library enables autograd
        for its own backward and leaves the caller's mode as it was."""
        _check_batch(batch_size)
        layers = [] if layer is None else ([layer] if isinstance(layer, str) else list(layer))
        alpha, max_channels = _cam_options(method, alpha, contrast, max_channels)
        if isinstance(images, Dataset):
            spec = self._spec(data=images)
            ds = self._fit(images, spec)
            idx = list(range(len(ds))) if indices is None else \
                [_index(i, len(ds), f"indices[{k}]") for k, i in enumerate(indices)]
            classes = _Classes(self.class_names or ds.class_names, lambda: self._m.num_classes(spec))
            t = self._targets(targets, len(idx), classes, true_code=-2, labels=None)
            lay = [self._m.resolve_layer(l, spec) for l in (layers or [""])]
            ctr = self._contrast(contrast, classes, None, len(idx), ds, idx)
            logits, probs, maps, lab = self._m.cam_dataset(ds._d, spec, idx, t, method, lay, eigen_smooth, aug_smooth,
                                                           max_channels, alpha, ctr, bool(raw),
                                                           batch_size, bool(progress))
            return (maps, Predictions(logits, probs, lab, np.asarray(idx))) if return_predictions else maps
        if indices is not None:
            raise UsageError("indices= applies to a camscope.Dataset, not to arrays")
        images = np.asarray(images)
        spec = self._spec(images=images)
        n = len(images)
        classes = _Classes(self.class_names, lambda: self._m.num_classes(spec))
        t = self._targets(targets, n, classes, true_code=None, labels=labels)
        lay = [self._m.resolve_layer(l, spec) for l in (layers or [""])]
        ctr = self._contrast(contrast, classes, labels, n, None, None)
        logits, maps = self._m.cam_arrays(images, spec, t, method, lay, eigen_smooth, aug_smooth, max_channels,
                                          alpha, ctr, bool(raw), batch_size, bool(progress))
        if return_predictions:
            probs = self._m.predict_arrays(images, spec, batch_size, False)[1]
            return maps, Predictions(logits, probs, None if labels is None else np.asarray(labels))
        return maps

    def _targets(self, targets, n, classes, true_code, labels):
        if isinstance(targets, str) and targets == "pred":
            return [-1] * n
        if isinstance(targets, str) and targets == "true":
            if true_code is not None:
                return [true_code] * n
            if labels is None:
                raise UsageError('targets="true" needs labels= for arrays (or pass a camscope.Dataset)')
            lab = _integers(labels, "labels")
            if len(lab) != n:
                raise UsageError(f"labels: {len(lab)} labels for {n} images")
            return [classes.index(v, f"labels[{i}]: ") for i, v in enumerate(lab)]
        if isinstance(targets, (str, int, np.integer)):
            return [classes.index(targets, "targets: ", keywords=True)] * n
        t = list(np.asarray(targets).reshape(-1)) if isinstance(targets, np.ndarray) else list(targets)
        if len(t) != n:
            raise UsageError(f"targets: {len(t)} targets for {n} images")
        return [classes.index(v.item() if isinstance(v, np.generic) else v, f"targets[{i}]: ") for i, v in enumerate(t)]

    def _contrast(self, contrast, classes, labels, n, ds, idx):
        if contrast is None:
            return []
        if isinstance(contrast, (str, int, np.integer)):
            contrast = [contrast]
        per_image = len(contrast) == n and all(isinstance(c, (list, tuple)) for c in contrast)
        rows = contrast if per_image else [contrast]
        lab = None if labels is None else _integers(labels, "labels")

        def label_of(i):
            if ds is not None:
                return int(ds[idx[i]][1])
            if lab is None:
                raise UsageError('contrast "true" needs labels= for arrays (or pass a camscope.Dataset)')
            return lab[i]

        out = []
        for r, row in enumerate(rows):
            if any(c == "true" for c in row) and not per_image:
                return [[label_of(i) if c == "true" else classes.index(c, "contrast: ") for c in row] for i in range(n)]
            out.append([label_of(r) if c == "true" else classes.index(c, "contrast: ") for c in row])
        return out


class _Classes:
    """The classes a target, label or contrast class is checked against: ``names`` and their count,
    the model's output count when it has no names (asked of the model once, when first needed). The
    check itself is the library's (data/class_ref.hpp: the CLI's and the server's rule and wording);
    Python's part is the types: a whole float is its int, an int of any size goes as its digits."""

    def __init__(self, names, count_of):
        self.names, self._count_of = list(names), count_of
        self._count = len(self.names) or None

    def index(self, c, where="", keywords=False):
        """The class index of ``c``; ``keywords``: where "pred" and "true" are accepted too (the
        caller has handled them), so that the message lists them as the CLI's -t does."""
        if isinstance(c, (float, np.floating)):
            c = _integer(c, "class index")
        text = str(int(c)) if isinstance(c, (int, np.integer)) else str(c)
        if self._count is None:
            self._count = self._count_of()
        return _c.parse_class(text, self.names, self._count, where, keywords)


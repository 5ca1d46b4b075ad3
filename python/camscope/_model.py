"""camscope.Model: a TorchScript classifier (a file, or a live module from PyTorch) run by the C++
engine: its input spec, layers, predictions (camscope.Predictions) and CAM maps."""
from __future__ import annotations

import os
import weakref
from typing import Any, Dict, Iterable, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _camscope as _c
from ._args import (ClassRef, Images, PathLike, UsageError, _cam_options, _check_batch, _count, _index, _integer,
                    _integers)
from ._data import Dataset
from ._inputs import _images
from ._tables import Table, columns_table


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

    class_names: List[str]  # the model's or the dataset's, in class order; empty when unknown

    def __init__(self, logits: npt.NDArray[np.float32], probs: npt.NDArray[np.float32],
                 labels: Optional[npt.NDArray[Any]] = None, indices: Optional[npt.NDArray[Any]] = None,
                 class_names: Sequence[str] = ()) -> None:
        self.logits, self.probs = logits, probs
        self.pred = np.argmax(probs, axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
        self.confidence = probs[np.arange(len(probs)), self.pred] if len(probs) else np.zeros(0, np.float32)
        self.labels, self.indices = labels, indices
        self.class_names = list(class_names)

    def table(self, frame: Optional[bool] = None) -> Table:
        """One row per image, named as the report's per-image tables (summary.json): ``index`` (dataset
        index, when predicted from a Dataset), ``label`` and ``label_name`` (when labelled), ``pred``,
        ``pred_name``, ``confidence`` (names: None where unknown). A pandas DataFrame when pandas can be
        imported (``frame=None``), else a list of dicts; ``frame=True``/``False`` chooses (see
        :meth:`Report.table`)."""
        names = self.class_names

        def named(classes: npt.NDArray[Any]) -> List[Optional[str]]:
            return [names[c] if 0 <= c < len(names) else None for c in classes.tolist()]

        cols: Dict[str, Any] = {}
        if self.indices is not None:
            cols["index"] = np.asarray(self.indices, np.int64)
        if self.labels is not None:
            cols["label"] = np.asarray(self.labels, np.int64)
            cols["label_name"] = named(np.asarray(self.labels))
        cols["pred"] = np.asarray(self.pred, np.int64)
        cols["pred_name"] = named(self.pred)
        cols["confidence"] = np.asarray(self.confidence, np.float64)
        return columns_table(cols, frame)

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


class Layer(tuple):
    """One row of :meth:`Model.layers`: a tuple ``(path, type, shape)`` (so that ``for path, type,
    shape in model.layers()`` reads it) with the attributes ``path``, ``type``, ``shape`` (the
    output shape for one input), ``layout`` (how a CAM at this layer reads its output: "nchw 8x8",
    "nhwc 7x7", "tokens 1+14x14", "ncl 1x16", or "-": no CAM possible there; the Model's
    ``layout=``/``grid=`` applied), ``evidence`` (why that reading, or why none) and ``default``
    (True for the layer ``cam()`` picks when given no ``layer``)."""

    layout: str
    evidence: str
    default: bool

    def __new__(cls, path: str, type: str, shape: List[int], layout: str, evidence: str, default: bool) -> Layer:
        row = super().__new__(cls, (path, type, list(shape)))
        row.layout, row.evidence, row.default = layout, evidence, bool(default)
        return row

    @property
    def path(self) -> str:
        """The dotted module path (``layer4.1.conv2``): what ``layer=`` takes."""
        return self[0]

    @property
    def type(self) -> str:
        """The module's class name (``Conv2d``)."""
        return self[1]

    @property
    def shape(self) -> List[int]:
        """The layer's output shape for one input."""
        return self[2]

    def __repr__(self) -> str:
        return (f"Layer(path={self[0]!r}, type={self[1]!r}, shape={self[2]!r}, layout={self.layout!r}"
                f"{', default=True' if self.default else ''})")


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

    Images (``images`` of :meth:`predict` and :meth:`cam`, ``data`` of :meth:`layers` and
    :meth:`input_spec`): one image is a PIL image, a uint8 H×W (grey) or H×W×C array (C = 1 or 3), or
    a C×H×W tensor (float pixels in [0, 1] as ToTensor gives, or uint8); a batch is a list of those,
    a uint8 N×H×W×C (C = 1 or 3) or N×H×W array, a uint8 N×C×H×W tensor, or a float N×C×H×W array
    or tensor, taken as already normalised (fed as it is). A 3-D uint8 array is one H×W×C image
    when its last axis is 1 or 3, else N grey H×W images (a last axis of 2 or 4 is refused as
    ambiguous, with how to say which). One image gives the results of a batch of one: maps 1×H×W
    and predictions of one row (``maps[0]`` is its map, as with pytorch-grad-cam).

    Keywords:
        path: the TorchScript file (.pt; traced, scripted, or a camscope checkpoint).
        device: "cpu" ("cuda" / "cuda:N" where LibTorch has CUDA).
        threads: None (the default): 1 thread for calls on fewer than 64 images (small calls are as
            fast or faster on one, and many times slower on several on a busy machine), PyTorch's
            setting (``torch.get_num_threads()``) for larger ones; 0: PyTorch's setting always; N > 0:
            N threads (at most one per core). Only during this model's calls: PyTorch's thread count
            is as it was after every call (this process shares its libtorch).
        input_size: (H, W) the model is fed (images are resized), as the CLI's --input-size.
        mean, std: the per-channel normalisation (one value, or one per channel).
        norm: a normalisation preset (cifar10, cifar100, mnist, fashion-mnist, imagenet).
        quiet: False prints the library's notes (the layer chosen, fallbacks) on stderr.
        layout: how a CAM reads its layer's output: "nchw", "nhwc", "ncl", "tokens" or
            "tokens:PREFIX" (PREFIX class tokens); None: inferred per layer (:meth:`layers` shows it).
        grid: the CAM layer's spatial grid, "HxW" or (h, w) (tokens: h·w tokens after the prefix;
            ncl: h·w = L); None: inferred.
        logits: for a model whose forward returns a tuple, list or dict, which element holds the
            logits: an index (``logits=1``, ``-1`` = the last) or a key (``logits="logits"``), as the
            CLI's --logits. None (the default): a tensor output as it is, else the one floating N×K
            element; an ambiguous output is refused, naming every element and its shape (one level:
            nested containers are not searched); ``info["logits"]`` shows the choice."""

    def __init__(self, path: PathLike, *, device: str = "cpu", threads: Optional[int] = None,
                 input_size: Optional[Tuple[int, int]] = None, mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, norm: Optional[str] = None, quiet: bool = True,
                 layout: Optional[str] = None, grid: Union[str, Tuple[int, int], None] = None,
                 logits: Union[int, str, None] = None) -> None:
        self._m = _c._Model.load(os.fspath(path), device, _threads(threads), bool(quiet), layout or "", _grid(grid),
                                 _logits_selector(logits))
        self._init(input_size, mean, std, norm, quiet)

    def _init(self, input_size, mean, std, norm, quiet):
        self._ov = dict(input_size=input_size, mean=mean, std=std, norm=norm or "")
        self._quiet = quiet
        self._fitted = {}
        self._module_paths = getattr(self, "_module_paths", None)  # from_torch: id(module) -> (path, weakref)

    @classmethod
    def from_torch(cls, module: Any, example_input: Any, *, script: bool = False, name: Optional[str] = None,
                   device: str = "cpu", threads: Optional[int] = None, input_size: Optional[Tuple[int, int]] = None,
                   mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                   norm: Optional[str] = None, quiet: bool = True, layout: Optional[str] = None,
                   grid: Union[str, Tuple[int, int], None] = None, logits: Union[int, str, None] = None) -> Model:
        """A live ``torch.nn.Module`` as a Model: made TorchScript in memory (``torch.jit.save``) and
        handed as bytes to the C++ loader (no tensors cross the boundary: any torch version works).
        The module's submodules name layers afterwards: ``model.cam(x, layer=module.layer4)``.

        module: the classifier; run in eval mode while converted (its training flags, parameters'
        ``requires_grad`` and the grad mode are as they were afterwards). example_input: a tensor of
        the size the model is fed (e.g. ``torch.randn(1, 3, 224, 224)``; it is not modified).
        script: False (the default) traces with the gradient path recorded (so that CAMs can run
        through nn.MultiheadAttention, even with frozen weights), then checks the trace against the
        live module on a second input (same shape and dtype, other values); a trace that differs
        (a branch on the input's values) or fails is replaced by ``torch.jit.script`` when the script
        agrees with the live module (a warning says so), else a ``camscope.Error`` says what failed,
        in which submodule and line, and what to change. True: ``torch.jit.script``, checked the same
        way. ``info["from_torch"]`` says which was used and why. name: the name the model's messages
        and reports use (default ``<ClassName>``). device, threads, input_size, mean, std, norm, quiet,
        layout, grid, logits: as for :class:`Model` (dict and list outputs trace: ``strict=False``)."""
        from ._torch import to_torchscript

        data, how = to_torchscript(module, example_input, script=bool(script))
        obj = cls.__new__(cls)
        obj._m = _c._Model.load_bytes(data, name or f"<{type(module).__name__}>", device, _threads(threads),
                                      bool(quiet), layout or "", _grid(grid), _logits_selector(logits))
        obj._module_paths = {id(m): (p, weakref.ref(m)) for p, m in module.named_modules()}  # layer=<module>
        obj._init(input_size, mean, std, norm, quiet)
        obj._from_torch = how
        return obj

    @property
    def info(self) -> Dict[str, Any]:
        """path, kind, class_names (camscope metadata), input (its spec, if recorded), train_mode_baked;
        for a :meth:`from_torch` model also ``from_torch``: how it was made ("traced" or "scripted"),
        why, and its check against the live module."""
        info = self._m.info()
        if getattr(self, "_from_torch", None) is not None:
            info["from_torch"] = self._from_torch
        return info

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
            a = images  # a batch as _images gives it
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
        return dict(self._any_spec(data))

    def _any_spec(self, data, input_size=None, channels=None):
        if isinstance(data, Dataset):
            return self._spec(data=data)
        if data is not None:
            return self._spec(images=_images(data, "data")[0])
        ov = self._ov if input_size is None else dict(self._ov, input_size=tuple(input_size))
        return self._m.spec(None, channels=int(channels or 0), height=0, width=0, **ov)

    def layers(self, data: Union[Dataset, Images, None] = None, *, input_size: Optional[Tuple[int, int]] = None,
               channels: Optional[int] = None) -> List[Layer]:
        """Every submodule in call order, one :class:`Layer` each: a tuple ``(path, type, output
        shape)`` with ``.layout`` (how a CAM reads it), ``.evidence`` and ``.default`` (the layer
        ``cam()`` uses without ``layer=``, as ``camscope layers`` marks it), for one input of the
        size the model's metadata or these give.

        data: a :class:`Dataset` or images (one image or a batch) whose size and channels are used.
        input_size: (H, W) when there is no data (not kept for later calls).
        channels: the input channels when there is no data and the model's metadata does not say."""
        return [Layer(*row) for row in self._m.layers(self._any_spec(data, input_size, channels))]

    def default_layer(self, data: Union[Dataset, Images, None] = None, *, input_size: Optional[Tuple[int, int]] = None,
                      channels: Optional[int] = None) -> str:
        """The layer :meth:`cam` uses when given no ``layer`` (for inputs of this size: data,
        input_size and channels as for :meth:`layers`); Error saying why when no layer qualifies."""
        return self._m.resolve_layer("", self._any_spec(data, input_size, channels))

    def _layer_paths(self, layer):
        """``layer=`` of cam(): None, a path, a submodule of the from_torch module, or a list of them."""
        if layer is None:
            return []
        one = isinstance(layer, str) or hasattr(layer, "named_modules")
        return [self._layer_path(x, "layer" if one else f"layer[{k}]")
                for k, x in enumerate([layer] if one else list(layer))]

    def _layer_path(self, layer, what):
        if isinstance(layer, str):
            return layer
        if not hasattr(layer, "named_modules"):
            raise UsageError(f"{what}: expected a layer path (str) or a torch.nn.Module, got {type(layer).__name__}")
        if self._module_paths is None:
            raise UsageError(f"{what}: a {type(layer).__name__} module names a layer only for a Model made by "
                             "Model.from_torch; this one was loaded from a file: name the layer by its path "
                             "(Model.layers() lists them), e.g. layer='layer4'")
        hit = self._module_paths.get(id(layer))
        if hit is None or hit[1]() is not layer:
            raise UsageError(f"{what}: this {type(layer).__name__} is not a submodule of the module given to "
                             "Model.from_torch (Model.layers() lists the layers; a copy of a submodule does not count)")
        if hit[0] == "":
            raise UsageError(f"{what}: the module given to Model.from_torch is the whole model, not one of its layers")
        return hit[0]

    def predict(self, images: Union[Dataset, Images], *, batch_size: int = 64, limit: Optional[int] = None,
                indices: Optional[Iterable[int]] = None, progress: bool = True) -> Predictions:
        """Predictions for a :class:`Dataset` (as ``camscope predict``) or for images: one image, a
        list of images or a batch (see :class:`Model`; one image gives one row). uint8 pixels are
        normalised by the model's input spec; float32 N×C×H×W is taken as already normalised (without
        a copy when C-contiguous). An empty batch (N = 0, either dtype, or ``indices=[]``) gives
        empty predictions (logits 0×K).

        images: a Dataset, or images.
        batch_size: images per forward.
        limit (a Dataset): only the first ``limit`` images (None or 0: all).
        indices (a Dataset): these dataset indices (negative ones counting from the end).
        progress: show a progress bar."""
        _check_batch(batch_size)
        if isinstance(images, Dataset):
            spec = self._spec(data=images)
            ds = self._fit(images, spec)
            idx = None if indices is None else [_index(i, len(ds), f"indices[{k}]") for k, i in enumerate(indices)]
            if idx == []:  # predict_dataset reads an empty list as "every image"
                logits, probs = self._m.predict_arrays(
                    np.zeros((0, spec["channels"], spec["height"], spec["width"]), np.float32), spec, batch_size, False)
                return Predictions(logits, probs, np.zeros(0, np.int32), np.zeros(0, np.int32),
                                   self.class_names or ds.class_names)
            logits, probs, idx, labels = self._m.predict_dataset(
                ds._d, spec, batch_size, _count(limit, "limit"), idx or [], bool(progress))
            return Predictions(logits, probs, labels, idx, self.class_names or ds.class_names)
        if limit is not None or indices is not None:
            raise UsageError("limit= and indices= apply to a camscope.Dataset, not to images")
        images = _images(images)[0]
        spec = self._spec(images=images)
        logits, probs = self._m.predict_arrays(images, spec, batch_size, bool(progress))
        return Predictions(logits, probs, class_names=self.class_names)

    def cam(self, images: Union[Dataset, Images],
            targets: Union[Literal["pred", "true"], ClassRef, Sequence[ClassRef]] = "pred", method: str = "gradcam",
            layer: Union[str, Any, Sequence[Union[str, Any]], None] = None, *, labels: Optional[Sequence[int]] = None,
            indices: Optional[Iterable[int]] = None, contrast: Optional[Sequence[Any]] = None,
            alpha: Optional[float] = None, eigen_smooth: bool = False, aug_smooth: bool = False, max_channels: int = 0,
            raw: bool = False, batch_size: int = 64, progress: bool = True, return_predictions: bool = False) -> Any:
        """CAM maps N×H×W (float32, at the model's input size, in [0, 1] unless ``raw``), equal to
        what ``camscope cam`` writes to cams.npy for the same images and options; one image gives
        maps 1×H×W (``maps[0]`` is its map, as with pytorch-grad-cam). Class indices and labels are
        whole numbers (3.0 is 3; 3.7 is refused). An empty batch (N = 0, either dtype, or
        ``indices=[]``) gives maps 0×H×W. Works inside ``torch.no_grad()`` /
        ``torch.inference_mode()``: the library enables autograd for its own backward and leaves the
        caller's mode as it was.

        images: a :class:`Dataset`, or images: one image, a list of images or a batch (see :class:`Model`).
        targets: "pred" (each image's prediction), "true" (its label: a Dataset, or ``labels=``), a
            class index or name for every image, or a sequence with one index or name per image.
        method: one of :func:`cam_methods` (gradcam, gradcampp, scorecam, ...).
        layer: a layer path ("layer4", "layer3.1.conv2"), a submodule of a :meth:`from_torch` model
            (``net.layer4``), or a list of them (maps fused); None: the automatic choice,
            :meth:`default_layer` (marked ``.default`` in :meth:`layers`).
        labels (images): one label per image, for ``targets="true"`` and ``return_predictions``.
        indices (a Dataset): dataset indices, default all, negative ones counting from the end.
        contrast (finercam): the comparison classes, one list for every image or one per image;
            "true" stands for the image's label; None: the 3 classes closest to the target.
        alpha (finercam only; default 1): the comparison strength in y_target - alpha * y_contrast.
        eigen_smooth: the maps' first principal component (pytorch-grad-cam's eigen_smooth).
        aug_smooth: the mean over flipped and rescaled copies (pytorch-grad-cam's aug_smooth).
        max_channels (scorecam, ablationcam): 0 = every channel, N = the N most active.
        raw: the maps as computed (no ReLU, no min-max to [0, 1]), resized to the input size.
        batch_size: images per forward/backward.
        progress: show a progress bar.
        return_predictions: return ``(maps, Predictions)`` (the logits of the same forward)."""
        _check_batch(batch_size)
        layers = self._layer_paths(layer)
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
            return (maps, Predictions(logits, probs, lab, np.asarray(idx), classes.names)) if return_predictions else maps
        if indices is not None:
            raise UsageError("indices= applies to a camscope.Dataset, not to images")
        images = _images(images)[0]
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
            return maps, Predictions(logits, probs, None if labels is None else np.asarray(labels).reshape(-1),
                                     class_names=classes.names)
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


def _threads(threads: Optional[int]) -> Optional[int]:
    """Model(threads=): None (automatic) or a whole number, checked by the C++ side."""
    return None if threads is None else _integer(threads, "threads")


def _grid(grid: Union[str, Tuple[int, int], None]) -> str:
    """Model(grid=): "HxW", or (h, w) as "hxw"; "" = inferred."""
    if grid is None:
        return ""
    if isinstance(grid, str):
        return grid
    hw = list(grid)
    if len(hw) != 2:
        raise UsageError(f"grid: expected (h, w) or 'HxW', got {grid!r}")
    return f"{_integer(hw[0], 'grid[0]')}x{_integer(hw[1], 'grid[1]')}"

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
show a progress bar (a widget in Jupyter) and stop on Ctrl-C / a kernel interrupt with
KeyboardInterrupt, leaving nothing half-written.
"""
import atexit
import base64
import html
import io
import json
import os
import weakref

import numpy as np

from . import _camscope as _c
from . import _progress

_c._set_progress_callback(_progress.event)

Error = _c.Error
UsageError = _c.UsageError

__all__ = ["Model", "Dataset", "Report", "Explorer", "Predictions", "analyze", "analyze_shard", "explore", "widget",
           "cam_methods", "Error", "UsageError"]


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


def cam_methods():
    """Names of the CAM methods (``method=`` of :meth:`Model.cam` and :func:`analyze`)."""
    return list(_c.cam_methods())


# ---------------------------------------------------------------------------------------- data


class Dataset:
    """A labelled image set: a path in any format the CLI reads (CIFAR-10/100 binary, IDX with or
    without gzip, an image folder with one sub-folder per class), arrays (:meth:`from_arrays`), or a
    torchvision-style dataset object (indexable, returning ``(PIL image or array, label)``).

    ``limit``: only the first ``limit`` images (a positive whole number; all of them when the
    dataset has fewer; None: every image). ``class_names``: the names of its classes in label order,
    one per class (UsageError naming both counts otherwise); they replace the format's names (for a
    path) or ``dataset.classes`` (for an object)."""

    def __init__(self, source, *, split="test", format=None, class_names=None, limit=None):
        limit = _first(limit)
        names = None if class_names is None else [str(c) for c in class_names]
        if isinstance(source, (str, os.PathLike)):
            self._d = _c._Dataset.open(os.fspath(source), split, format or "", limit or 0, names)
        else:
            self._d = Dataset.from_torchvision(source, class_names=names, limit=limit)._d

    @classmethod
    def _wrap(cls, d):
        obj = cls.__new__(cls)
        obj._d = d
        return obj

    @classmethod
    def from_arrays(cls, images, labels, class_names, coarse=None, coarse_names=None, name="arrays"):
        """Images as uint8 N×H×W×C (C = 1 or 3) or N×H×W, labels N whole numbers in
        [0, len(class_names)) (ints, or floats such as 3.0; 9.7 is refused), optional superclass
        labels ``coarse`` (N whole numbers) and their names. The pixels are copied once."""
        labels = _integers(labels, "labels")
        co = None if coarse is None else _integers(coarse, "coarse")
        return cls._wrap(_c._Dataset.from_arrays(images, labels, [str(c) for c in class_names], co,
                                                 [str(c) for c in (coarse_names or [])], name))

    @classmethod
    def from_torchvision(cls, dataset, class_names=None, limit=None, name=None):
        """Reads every item of ``dataset`` (``dataset[i] -> (image, label)``; the image a PIL image,
        a uint8 H×W[×C] array, or a float C×H×W tensor in [0, 1] as ``ToTensor`` gives) into memory:
        every item, or the first ``limit``. Class names from ``class_names`` (as many as
        ``dataset.classes`` has, where it has them) or ``dataset.classes``.

        A transform that normalises (``ToTensor()`` then ``Normalize(mean, std)``, found in
        ``dataset.transform``) gives tensors the model is fed exactly as they are: the pixels are
        recovered from them (for the figures), and every model call and report uses that mean/std,
        stated as "already normalised by the torchvision transform (Normalize)" (a model's metadata
        does not normalise them again; a mean/std or norm given to the Model that differs is an
        error). Float tensors outside [0, 1] without a Normalize camscope can read are refused."""
        limit = _first(limit)
        given = getattr(dataset, "classes", None)
        if class_names is not None and given is not None and len(class_names) != len(given):
            raise UsageError(f"class_names: {len(class_names)} names for the {len(given)} classes of "
                             f"{type(dataset).__name__} (its .classes)")
        n = len(dataset) if limit is None else min(limit, len(dataset))
        norm = _transform_normalize(dataset)
        images, labels = [], []
        normalised = False
        for i in range(n):
            img, label = dataset[i]
            where = f"{type(dataset).__name__}[{i}]"
            a, undone = _to_uint8_hwc(img, where, norm)
            normalised |= undone
            images.append(a)
            labels.append(_integer(label.item() if hasattr(label, "item") else label, f"{where} label"))
        if not images:
            raise UsageError("the dataset has no images")
        shapes = {a.shape for a in images}
        if len(shapes) != 1:
            raise UsageError(f"the dataset's images differ in size ({sorted(shapes)[:3]}...): resize them "
                             "(e.g. transforms.Resize) or use an image folder")
        if class_names is None:
            class_names = getattr(dataset, "classes", None)
        if class_names is None:
            class_names = [f"class_{k}" for k in range(max(labels) + 1)]
        labels = _integers(labels, "labels")
        return cls._wrap(_c._Dataset.from_arrays(
            np.stack(images), labels, [str(c) for c in class_names], None, [], name or type(dataset).__name__.lower(),
            (list(norm[0]), list(norm[1])) if normalised else None, "the torchvision transform (Normalize)"))

    def __len__(self):
        return len(self._d)

    def __getitem__(self, i):
        """``(image uint8 H×W×C, label)`` as the library reads it. ``i``: 0..len-1, or negative
        counting from the end as for a list (-1 = the last image); IndexError outside."""
        return self._d.get(_index(i, len(self)))

    @property
    def info(self):
        """Format, name, split, class names, superclasses, size."""
        return self._d.info()

    @property
    def class_names(self):
        """The class names, in label order."""
        return list(self._d.info()["class_names"])

    def __repr__(self):
        i = self.info
        return f"camscope.Dataset({i['path']!r}: {i['format']}, {i['size']} images, {len(i['class_names'])} classes)"


def _transform_normalize(dataset):
    """The (mean, std) of the torchvision ``Normalize`` in ``dataset``'s transform (``transform``,
    through ``Compose``'s ``transforms`` and ``nn.Sequential``), as float32 arrays; None without one.
    Two of them: UsageError (which one the tensors went through last cannot be told)."""
    found, seen = [], set()

    def visit(t):
        if t is None or id(t) in seen:
            return
        seen.add(id(t))
        if type(t).__name__ == "Normalize" and hasattr(t, "mean") and hasattr(t, "std"):
            found.append(t)
            return
        inner = getattr(t, "transforms", None)
        if isinstance(inner, (list, tuple)):
            for x in inner:
                visit(x)
        elif hasattr(t, "children") and callable(t.children):  # nn.Sequential of transforms
            for x in t.children():
                visit(x)

    visit(getattr(dataset, "transform", None))
    if not found:
        return None
    if len(found) > 1:
        raise UsageError(f"{type(dataset).__name__}.transform holds {len(found)} Normalize transforms: give camscope "
                         "the images before normalising (ToTensor() only) and the Model the mean/std")

    def values(v):
        return np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, np.float32).reshape(-1)

    return values(found[0].mean), values(found[0].std)


def _to_uint8_hwc(img, where, norm=None):
    """``img`` as uint8 H×W×C, and whether it was a tensor normalised by ``norm`` (mean, std),
    which is undone: the pixels are recovered exactly from ToTensor's p/255."""
    undone = False
    if hasattr(img, "detach"):  # a torch tensor, C×H×W float in [0, 1] (ToTensor), or normalised
        t = img.detach().cpu().numpy()
        if t.ndim != 3:
            raise UsageError(f"{where}: a tensor image must be C×H×W, got shape {t.shape}")
        if t.dtype.kind == "f":
            t = t.astype(np.float64)
            if norm is not None:
                mean, std = norm
                if len(mean) not in (1, t.shape[0]) or len(std) not in (1, t.shape[0]):
                    raise UsageError(f"{where}: the transform's Normalize has {len(mean)} means and {len(std)} stds for "
                                     f"{t.shape[0]} channels")
                t = t * std.astype(np.float64)[:, None, None] + mean.astype(np.float64)[:, None, None]
                undone = True
            lo, hi = float(t.min()), float(t.max())
            if lo < -0.01 or hi > 1.01:
                raise UsageError(
                    f"{where}: a float tensor with values in [{lo:.3g}, {hi:.3g}], not pixels in [0, 1]" +
                    (" after undoing the transform's Normalize" if undone else
                     ": normalised by a transform camscope cannot read (no torchvision Normalize in .transform)") +
                    "; give camscope the ToTensor() images and the Model the mean/std")
            a = np.clip(np.rint(np.transpose(t, (1, 2, 0)) * 255.0), 0, 255).astype(np.uint8)
        else:
            a = np.transpose(t, (1, 2, 0)).astype(np.uint8)
    elif hasattr(img, "convert") and hasattr(img, "mode"):  # PIL
        a = np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)
    else:
        a = np.asarray(img)
    if a.dtype != np.uint8:
        raise UsageError(f"{where}: expected a uint8 image, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise UsageError(f"{where}: expected an H×W, H×W×1 or H×W×3 image, got shape {a.shape}")
    return np.ascontiguousarray(a), undone


# ---------------------------------------------------------------------------------------- models


class Predictions:
    """Per image: ``logits`` N×K, ``probs`` N×K (softmax), ``pred`` N, ``confidence`` N; for a
    dataset also ``labels`` N and ``indices`` N (dataset indices)."""

    def __init__(self, logits, probs, labels=None, indices=None):
        self.logits, self.probs = logits, probs
        self.pred = np.argmax(probs, axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
        self.confidence = probs[np.arange(len(probs)), self.pred] if len(probs) else np.zeros(0, np.float32)
        self.labels, self.indices = labels, indices

    @property
    def accuracy(self):
        """Top-1 accuracy (needs labels)."""
        if self.labels is None:
            raise UsageError("accuracy needs labels: predict a camscope.Dataset")
        return float(np.mean(self.pred == self.labels)) if len(self.pred) else 0.0

    def __len__(self):
        return len(self.pred)

    def __repr__(self):
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
    calls only. Either way PyTorch's thread count is as it was after every call."""

    def __init__(self, path, *, device="cpu", threads=0, input_size=None, mean=None, std=None, norm=None,
                 quiet=True):
        self._m = _c._Model.load(os.fspath(path), device, int(threads), bool(quiet))
        self._init(input_size, mean, std, norm, quiet)

    def _init(self, input_size, mean, std, norm, quiet):
        self._ov = dict(input_size=input_size, mean=mean, std=std, norm=norm or "")
        self._quiet = quiet
        self._fitted = {}

    @classmethod
    def from_torch(cls, module, example_input, *, script=False, name=None, device="cpu", threads=0,
                   input_size=None, mean=None, std=None, norm=None, quiet=True):
        """A live ``torch.nn.Module``: traced with ``example_input`` (or scripted with
        ``script=True``) in eval mode, serialized with ``torch.jit.save`` into memory, and handed as
        bytes to the C++ loader (no tensors cross the boundary: any torch version works)."""
        import torch

        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                ts = torch.jit.script(module) if script else torch.jit.trace(module, example_input)
        finally:
            module.train(was_training)
        buf = io.BytesIO()
        torch.jit.save(ts, buf)
        obj = cls.__new__(cls)
        obj._m = _c._Model.load_bytes(buf.getvalue(), name or f"<{type(module).__name__}>", device, int(threads),
                                      bool(quiet))
        obj._init(input_size, mean, std, norm, quiet)
        return obj

    @property
    def info(self):
        """path, kind, class_names (camscope metadata), input (its spec, if recorded), train_mode_baked."""
        return self._m.info()

    @property
    def class_names(self):
        """The class names of the model's camscope metadata (empty for other models)."""
        return list(self._m.info()["class_names"])

    def __repr__(self):
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
    def input_spec(self, data=None):
        """What this model is fed for ``data`` (a :class:`Dataset`, or images; None: the model's own
        metadata and arguments): channels, height, width, mean, std, and ``normalisation``: where
        mean/std came from ("model metadata", "dataset preset cifar10 (...)", "user mean/std",
        "already normalised by the torchvision transform (Normalize)", "none ...")."""
        if isinstance(data, Dataset):
            return dict(self._spec(data=data))
        return dict(self._spec(images=data)) if data is not None else dict(self._spec())

    def layers(self, data=None, *, input_size=None, channels=None):
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

    def predict(self, images, *, batch_size=64, limit=None, indices=None, progress=True):
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

    def cam(self, images, targets="pred", method="gradcam", layer=None, *, labels=None, indices=None,
            contrast=None, alpha=None, eigen_smooth=False, aug_smooth=False, max_channels=0, raw=False,
            batch_size=64, progress=True, return_predictions=False):
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


def _check_batch(batch_size):
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise UsageError(f"batch_size must be a positive integer, got {batch_size!r}")


# ---------------------------------------------------------------------------------------- reports


class Report:
    """The analysis of a model on a dataset (as ``camscope analyze``): the figures as Python objects,
    the same numbers summary.json holds (``summary``), and the report files when written."""

    def __init__(self, r, model, data, out, progress=True):
        self._r, self.model, self.data = r, model, data
        self.summary = json.loads(r.summary_json)
        self.out = None
        self.files = []
        if out is not None:
            self.write(out, progress=progress)

    # The figures
    @property
    def accuracy(self):
        """Top-1 accuracy (a fraction)."""
        return self.summary["overall"]["top1"]

    @property
    def top5(self):
        """Top-5 accuracy (a fraction; top-K for fewer than 5 classes)."""
        return self.summary["overall"]["top5"]

    @property
    def n(self):
        """Images analysed."""
        return int(self.summary["overall"]["correct"] + self.summary["overall"]["errors"])

    @property
    def per_class(self):
        """One dict per class: name, support, accuracy, precision, recall, F1, ..."""
        return self.summary["per_class"]

    @property
    def confusion(self):
        """The confusion matrix, K×K int64: counts[true, pred]."""
        return self._r.confusion()

    @property
    def pairs(self):
        """The confused directed pairs (true -> predicted), most frequent first, with counts and rates."""
        return self.summary["pairs"]["directed"]

    @property
    def calibration(self):
        """ECE, MCE, reliability bins, the fitted temperature."""
        return self.summary["calibration"]

    @property
    def label_errors(self):
        """Likely label errors (candidates), strongest first."""
        return self.summary["label_issues"]["items"]

    @property
    def recommendations(self):
        """What to try, each quoting the measured figures that triggered it (rule, text, figures)."""
        return self.summary["recommendations"]

    def figures(self):
        """The main figures as PNG bytes: confusion_matrix, top_confused_pairs, reliability_diagram
        (and likely_label_errors when there are candidates), drawn by the report's own code."""
        return dict(self._r.figures())

    def text(self):
        """The summary the CLI prints after ``analyze``."""
        return self._r.terminal_summary()

    def write(self, out, *, progress=True):
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

    def explore(self, **kw):
        """The interactive explorer of this report (see :func:`explore`)."""
        return explore(self, **kw)

    def __repr__(self):
        return f"camscope.Report(top-1 {self.accuracy:.4f}" + (f", written to {self.out!r})" if self.out else ")")

    def _repr_html_(self):
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


def analyze(model, data, out=None, *, layer=None, method="gradcam", limit=None, faithfulness_n=None, batch_size=64,
            eigen_smooth=False, aug_smooth=False, max_channels=0, alpha=None, store=False, resume=False, chunk=4096,
            progress=True, **options):
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


def analyze_shard(model, data, out, shard, *, layer=None, method="gradcam", limit=None, batch_size=64,
                  eigen_smooth=False, aug_smooth=False, max_channels=0, alpha=None, resume=False, chunk=4096,
                  progress=True):
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


# ---------------------------------------------------------------------------------------- explorer


class Explorer:
    """The explorer web app served from this process on a loopback port (a background thread);
    shown inline as an IFrame. ``stop()`` ends it (so does the end of the kernel)."""

    _running = weakref.WeakSet()  # stopped when the interpreter (the kernel) exits

    def __init__(self, e, report, height):
        self._e, self.report, self.height = e, report, height
        Explorer._running.add(self)

    @property
    def url(self):
        """The explorer's address (http://127.0.0.1:PORT/)."""
        return self._e.url

    @property
    def port(self):
        """The loopback port it listens on."""
        return self._e.port

    @property
    def running(self):
        """Serving (not stopped)."""
        return self._e.running()

    def stop(self):
        """Stops the server: requests in flight finish, the port is closed. Returns once it has
        stopped; safe to call again, and from several threads at once (each returns then)."""
        self._e.stop()

    def __repr__(self):
        return f"camscope.Explorer({self.url}{'' if self.running else ', stopped'})"

    def _repr_html_(self):
        return (f'<iframe src="{html.escape(self.url)}" width="100%" height="{int(self.height)}" '
                f'style="border:1px solid #ccc" title="camscope explorer"></iframe>')


@atexit.register
def _stop_explorers():
    for e in list(Explorer._running):
        e.stop()


# The pages that may show the explorer in an IFrame (its answers' Content-Security-Policy
# frame-ancestors): a notebook served from this machine (Jupyter on localhost or 127.0.0.1, any
# port) and VS Code's notebook webviews. `camscope serve` allows none.
NOTEBOOK_FRAME_ANCESTORS = ("'self' http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:* "
                            "vscode-webview: vscode-file:")


def explore(report=None, model=None, data=None, *, host="127.0.0.1", port=0, height=720,
            frame_ancestors=NOTEBOOK_FRAME_ANCESTORS, **analyze_options):
    """The interactive explorer (``camscope serve``) inline: of a :class:`Report`, or of ``model`` on
    ``data`` (analysed first, with ``analyze_options``). Returns an :class:`Explorer`.

    ``frame_ancestors``: the pages allowed to frame it (CSP sources separated by spaces; default: a
    notebook on this machine or in VS Code; ``"'none'"``: no page, as ``camscope serve``)."""
    if report is None:
        if model is None or data is None:
            raise UsageError("explore needs a Report, or model= and data=")
        report = analyze(model, data, **analyze_options)
    elif not isinstance(report, Report):
        raise UsageError(f"explore: expected a camscope.Report, got {type(report).__name__}")
    return Explorer(_c.explore(report._r, host, int(port), str(frame_ancestors)), report, height)


def widget(report, *, per_class=6, method=None, layer=None):
    """The explorer without a server (ipywidgets): a class dropdown and a choice of errors / correct
    predictions; the chosen images of that class with their CAMs for the predicted and the true
    class, computed live through :meth:`Model.cam` (the report's method and layer unless given) and
    drawn with the CLI's overlay."""
    import ipywidgets as w

    if not isinstance(report, Report):
        raise UsageError(f"widget: expected a camscope.Report, got {type(report).__name__}")
    rows = report._r.rows()
    names = report.data.class_names
    method = method or report.summary["run"]["method"]
    layer = layer or report.summary["run"]["layer"]
    cls = w.Dropdown(options=[(f"{i}: {n}", i) for i, n in enumerate(names)], description="class")
    kind = w.ToggleButtons(options=["errors", "correct"], value="errors")
    grid = w.VBox()

    def tile(png, caption):
        return w.VBox([w.Image(value=png, format="png", width=112, height=112), w.HTML(f"<small>{caption}</small>")])

    def show(*_):
        c = cls.value
        sel = (rows["label"] == c) & ((rows["pred"] != c) if kind.value == "errors" else (rows["pred"] == c))
        order = np.argsort(-rows["confidence"][sel], kind="stable")[:per_class]
        idx = rows["index"][sel][order]
        if len(idx) == 0:
            grid.children = [w.HTML(f"<i>no {kind.value} for {html.escape(names[c])}</i>")]
            return
        pred_maps = report.model.cam(report.data, "pred", method=method, layer=layer, indices=idx, progress=False)
        true_maps = report.model.cam(report.data, "true", method=method, layer=layer, indices=idx, progress=False)
        lines = []
        for k, i in enumerate(idx):
            img, label = report.data[int(i)]
            p = int(rows["pred"][sel][order][k])
            conf = float(rows["confidence"][sel][order][k])
            lines.append(w.HBox([
                tile(_c.overlay_png(img, pred_maps[k]), f"#{int(i)} pred {html.escape(names[p])} ({conf:.0%})"),
                tile(_c.overlay_png(img, true_maps[k]), f"true {html.escape(names[label])}")]))
        grid.children = lines

    cls.observe(show, names="value")
    kind.observe(show, names="value")
    show()
    return w.VBox([w.HBox([cls, kind]), grid])

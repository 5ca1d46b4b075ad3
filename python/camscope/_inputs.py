"""Images as camscope takes them, one conversion home: one image (a PIL image, a NumPy array, a torch
tensor) as uint8 H×W×C (:func:`_to_uint8_hwc`, the pixels of a ToTensor/Normalize tensor recovered
exactly); what :meth:`Model.predict` / :meth:`Model.cam` are given (one image, a list, a batch) as the
batch the C++ side reads (:func:`_images`); the (image, label) items of a torchvision-style dataset
or of an iterable of (images, labels) batches such as a DataLoader (:func:`_dataset_items`,
:func:`_batch_items`), with the Normalize of their transform (:func:`_transform_normalize`)."""
from __future__ import annotations

from typing import Any, Iterator, Optional, Tuple

import numpy as np

from ._args import UsageError

# The rule for arrays and tensors given to Model.predict / Model.cam / Model.layers / Model.input_spec
# (stated in Model's docstring; the shapes are the last axes, N first when there is a batch):
IMAGES_RULE = (
    "one image: a PIL image, a uint8 H×W array (grey) or H×W×C array (C = 1 or 3), a C×H×W tensor (float "
    "pixels in [0, 1] as ToTensor gives, or uint8); a batch: a list of those, a uint8 N×H×W×C (C = 1 or 3) "
    "or N×H×W array, a uint8 N×C×H×W tensor, or a float N×C×H×W array or tensor taken as already normalised")


def _is_tensor(x: Any) -> bool:
    return hasattr(x, "detach") and hasattr(x, "dim")


def _is_pil(x: Any) -> bool:
    return hasattr(x, "convert") and hasattr(x, "mode") and hasattr(x, "size")


def _shape(a: Any) -> str:
    return "×".join(str(int(d)) for d in a.shape) if len(a.shape) else "a scalar"


def _images(x: Any, what: str = "images") -> Tuple[np.ndarray, bool]:
    """``x`` as the batch the C++ side takes (uint8 N×H×W×C / N×H×W, or float N×C×H×W already
    normalised) and whether it was one image (IMAGES_RULE). A uint8 3-D array whose last axis is 1
    or 3 is one H×W×C image, any other 3-D uint8 array N grey H×W images; a last axis of 2 or 4 is
    refused as ambiguous (grey+alpha / RGBA image, or grey images 2 or 4 pixels wide)."""
    if _is_pil(x):
        return _to_uint8_hwc(x, what)[0][None], True
    if _is_tensor(x):
        t = x.detach().cpu()
        if t.dim() == 3:
            if t.is_floating_point():
                lo, hi = (float(t.min()), float(t.max())) if t.numel() else (0.0, 0.0)
                if lo < -0.01 or hi > 1.01:
                    raise UsageError(
                        f"{what}: a float C×H×W tensor is one image's pixels in [0, 1] (as ToTensor gives); this one "
                        f"has values in [{lo:.3g}, {hi:.3g}]: a normalised image goes as a batch of one, "
                        f"{what}[None] (N×C×H×W, fed to the model as it is)")
            return _to_uint8_hwc(t, what)[0][None], True
        if t.dim() == 4:
            a = t.numpy()
            if t.is_floating_point():
                return a, False  # N×C×H×W, already normalised (fed as it is)
            if a.dtype != np.uint8:
                raise UsageError(f"{what}: expected a uint8 or float tensor, got {t.dtype}")
            return np.ascontiguousarray(np.transpose(a, (0, 2, 3, 1))), False  # N×C×H×W uint8 -> N×H×W×C
        raise UsageError(f"{what}: a tensor must be one image C×H×W or a batch N×C×H×W, got shape {_shape(t)}")
    if isinstance(x, (list, tuple)):
        if not x:
            raise UsageError(f"{what}: an empty list (an empty batch goes as an array with N = 0, e.g. "
                             "np.zeros((0, H, W, 3), np.uint8))")
        items = [_to_uint8_hwc(v, f"{what}[{i}]")[0] for i, v in enumerate(x)]
        shapes = sorted({a.shape for a in items})
        if len(shapes) != 1:
            raise UsageError(f"{what}: the images differ in size or channels ({', '.join(map(str, shapes[:3]))}"
                             f"{'...' if len(shapes) > 3 else ''}): resize them to one size first")
        return np.stack(items), False
    a = np.asarray(x)
    if a.dtype.kind == "f":
        if a.ndim != 4:
            raise UsageError(f"{what}: a float array must be N×C×H×W (already normalised), got shape {_shape(a)}; "
                             f"one normalised image goes as {what}[None], pixels as uint8 H×W×C")
        return a, False
    if a.dtype == np.uint8 and a.ndim == 2:
        return a[None], True
    if a.dtype == np.uint8 and a.ndim == 3:
        if a.shape[2] in (1, 3):
            return a[None], True
        if a.shape[2] in (2, 4):
            raise UsageError(
                f"{what}: a uint8 array of shape {_shape(a)} is ambiguous: one {a.shape[0]}×{a.shape[1]} image with "
                f"{a.shape[2]} channels (grey or RGB plus alpha: pass {what}[..., :{a.shape[2] - 1}]) or {a.shape[0]} "
                f"grey images of {a.shape[1]}×{a.shape[2]} pixels (pass {what}[..., None])")
    return a, False  # uint8 N×H×W×C / N×H×W (the C++ side checks the rest and names the shape)


def _to_uint8_hwc(img: Any, where: str, norm: Optional[Tuple[np.ndarray, np.ndarray]] = None
                  ) -> Tuple[np.ndarray, bool]:
    """``img`` (a PIL image, a uint8 H×W / H×W×C array, a C×H×W tensor) as uint8 H×W×C, and whether
    it was a tensor normalised by ``norm`` (mean, std), which is undone: the pixels are recovered
    exactly from ToTensor's p/255."""
    undone = False
    if _is_tensor(img):  # C×H×W float in [0, 1] (ToTensor), or normalised; or uint8 (read_image)
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
            lo, hi = (float(t.min()), float(t.max())) if t.size else (0.0, 0.0)
            if lo < -0.01 or hi > 1.01:
                raise UsageError(
                    f"{where}: a float tensor with values in [{lo:.3g}, {hi:.3g}], not pixels in [0, 1]" +
                    (" after undoing the transform's Normalize" if undone else
                     ": normalised by a transform camscope cannot read (no torchvision Normalize in .transform)") +
                    "; give camscope the ToTensor() images and the Model the mean/std")
            a = np.clip(np.rint(np.transpose(t, (1, 2, 0)) * 255.0), 0, 255).astype(np.uint8)
        else:
            a = np.transpose(t, (1, 2, 0)).astype(np.uint8)
    elif _is_pil(img):
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


def _source_dataset(obj: Any) -> Any:
    """The dataset whose transform made ``obj``'s images: ``obj`` itself when it has a transform,
    else through ``.dataset`` (a DataLoader's dataset, a Subset's dataset), a few levels deep."""
    for _ in range(8):
        if obj is None or getattr(obj, "transform", None) is not None:
            return obj
        obj = getattr(obj, "dataset", None)
    return obj


def _transform_normalize(dataset: Any) -> Optional[Tuple[np.ndarray, np.ndarray]]:
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


def _is_batch(item: Any) -> bool:
    """Whether ``item`` (an element of a list given as a dataset) is an (images, labels) batch rather
    than one (image, label) pair: its labels are a sequence, an array or a tensor with one axis."""
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        return False
    labels = item[1]
    if _is_tensor(labels):
        return labels.dim() == 1
    return isinstance(labels, (list, tuple)) or (isinstance(labels, np.ndarray) and labels.ndim == 1)


def _dataset_items(dataset: Any, n: int) -> Iterator[Tuple[Any, Any, str]]:
    """(image, label, where) of items 0..n-1 of an indexable dataset."""
    for i in range(n):
        img, label = dataset[i]
        yield img, label, f"{type(dataset).__name__}[{i}]"


def _batch_items(batches: Any, limit: Optional[int]) -> Iterator[Tuple[Any, Any, str]]:
    """(image, label, where) of every image of an iterable of (images, labels) batches (or of
    (image, label) pairs, as an IterableDataset yields them), in iteration order, the first
    ``limit`` (None: all). images: a tensor N×C×H×W (float: ToTensor pixels, or
    normalised by the loader's dataset's Normalize; uint8), a uint8 array N×H×W×C / N×H×W, or a list
    of single images; labels: N whole numbers (a tensor, array or list)."""
    name = type(batches).__name__
    k = 0
    for b, batch in enumerate(batches):
        if not isinstance(batch, (list, tuple)) or len(batch) < 2:
            raise UsageError(f"{name}: batch {b} is a {type(batch).__name__}, expected (images, labels)")
        images, labels = batch[0], batch[1]
        if not _is_batch(batch[:2]) and np.ndim(labels.detach().cpu() if _is_tensor(labels) else labels) == 0:
            if limit is not None and k >= limit:  # one (image, label) pair: an IterableDataset's item
                return
            yield images, labels, f"{name} item {b}"
            k += 1
            continue
        if _is_tensor(labels):
            labels = labels.detach().cpu().numpy()
        labels = np.asarray(labels).reshape(-1) if not isinstance(labels, (list, tuple)) else list(labels)
        if _is_tensor(images):
            if images.dim() != 4:
                raise UsageError(f"{name}: batch {b}: images must be N×C×H×W, got shape {_shape(images)}")
        elif not isinstance(images, (list, tuple)):
            images = np.asarray(images)
            if images.ndim not in (3, 4):
                raise UsageError(f"{name}: batch {b}: images must be uint8 N×H×W×C or N×H×W, got shape {_shape(images)}")
        if len(images) != len(labels):
            raise UsageError(f"{name}: batch {b} has {len(images)} images and {len(labels)} labels")
        for i in range(len(images)):
            if limit is not None and k >= limit:
                return
            yield images[i], labels[i], f"{name} batch {b} image {i}"
            k += 1

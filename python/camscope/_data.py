"""camscope.Dataset: a labelled image set from a path, arrays or a torchvision-style dataset (whose
Normalize transform is read and undone to recover the pixels)."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _camscope as _c
from ._args import PathLike, UsageError, _first, _index, _integer, _integers


class Dataset:
    """A labelled image set: a path in any format the CLI reads (CIFAR-10/100 binary, IDX with or
    without gzip, an image folder with one sub-folder per class), arrays (:meth:`from_arrays`), or a
    torchvision-style dataset object (indexable, returning ``(PIL image or array, label)``).

    ``limit``: only the first ``limit`` images (a positive whole number; all of them when the
    dataset has fewer; None: every image). ``class_names``: the names of its classes in label order,
    one per class (UsageError naming both counts otherwise); they replace the format's names (for a
    path) or ``dataset.classes`` (for an object)."""

    def __init__(self, source: Union[PathLike, Any], *, split: Literal["test", "train"] = "test",
                 format: Optional[str] = None, class_names: Optional[Sequence[str]] = None,
                 limit: Optional[int] = None) -> None:
        limit = _first(limit)
        names = None if class_names is None else [str(c) for c in class_names]
        if isinstance(source, (str, os.PathLike)):
            self._d = _c._Dataset.open(os.fspath(source), split, format or "", limit or 0, names)
        else:
            self._d = Dataset.from_torchvision(source, class_names=names, limit=limit)._d

    @classmethod
    def _wrap(cls, d: Any) -> Dataset:
        obj = cls.__new__(cls)
        obj._d = d
        return obj

    @classmethod
    def from_arrays(cls, images: npt.NDArray[np.uint8], labels: Union[Sequence[int], npt.NDArray[Any]],
                    class_names: Sequence[str], coarse: Union[Sequence[int], npt.NDArray[Any], None] = None,
                    coarse_names: Optional[Sequence[str]] = None, name: str = "arrays") -> Dataset:
        """Images as uint8 N×H×W×C (C = 1 or 3) or N×H×W, labels N whole numbers in
        [0, len(class_names)) (ints, or floats such as 3.0; 9.7 is refused), optional superclass
        labels ``coarse`` (N whole numbers) and their names. The pixels are copied once."""
        labels = _integers(labels, "labels")
        co = None if coarse is None else _integers(coarse, "coarse")
        return cls._wrap(_c._Dataset.from_arrays(images, labels, [str(c) for c in class_names], co,
                                                 [str(c) for c in (coarse_names or [])], name))

    @classmethod
    def from_torchvision(cls, dataset: Any, class_names: Optional[Sequence[str]] = None, limit: Optional[int] = None,
                         name: Optional[str] = None) -> Dataset:
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

    def __len__(self) -> int:
        return len(self._d)

    def __getitem__(self, i: int) -> Tuple[npt.NDArray[np.uint8], int]:
        """``(image uint8 H×W×C, label)`` as the library reads it. ``i``: 0..len-1, or negative
        counting from the end as for a list (-1 = the last image); IndexError outside."""
        return self._d.get(_index(i, len(self)))

    @property
    def info(self) -> Dict[str, Any]:
        """Format, name, split, class names, superclasses, size."""
        return self._d.info()

    @property
    def class_names(self) -> List[str]:
        """The class names, in label order."""
        return list(self._d.info()["class_names"])

    def __repr__(self) -> str:
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


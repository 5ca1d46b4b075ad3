"""camscope.Dataset: a labelled image set from a path, arrays, a torchvision-style dataset or an
iterable of (images, labels) batches such as a DataLoader (whose Normalize transform is read and
undone to recover the pixels: _inputs.py)."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _camscope as _c
from ._args import PathLike, UsageError, _first, _index, _integer, _integers
from ._inputs import _batch_items, _dataset_items, _is_batch, _source_dataset, _to_uint8_hwc, _transform_normalize


class Dataset:
    """A labelled image set: a path in any format the CLI reads (CIFAR-10/100 binary, IDX with or
    without gzip, an image folder with one sub-folder per class), arrays (:meth:`from_arrays`), a
    torchvision-style dataset object (indexable, returning ``(PIL image or array, label)``:
    :meth:`from_torchvision`), or any other iterable of ``(images, labels)`` batches: a
    ``torch.utils.data.DataLoader``, a generator, a list of batches (:meth:`from_batches`).

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
        elif _indexable(source):
            self._d = Dataset.from_torchvision(source, class_names=names, limit=limit)._d
        else:
            self._d = Dataset.from_batches(source, class_names=names, limit=limit)._d

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
        n = len(dataset) if limit is None else min(limit, len(dataset))
        return cls._collect(dataset, _dataset_items(dataset, n), class_names, name)

    @classmethod
    def from_batches(cls, batches: Any, class_names: Optional[Sequence[str]] = None, limit: Optional[int] = None,
                     name: Optional[str] = None) -> Dataset:
        """Reads every image of an iterable of ``(images, labels)`` batches into memory: a
        ``torch.utils.data.DataLoader`` (any ``batch_size``; extra items after the labels are
        ignored), a generator, a list of batches; every image, or the first ``limit`` (the rest of
        the batches is not read). images: a tensor N×C×H×W (float: ToTensor's pixels in [0, 1], or
        normalised by the Normalize of the loader's ``dataset.transform``, read and undone as
        :meth:`from_torchvision` does; or uint8), a uint8 array N×H×W×C / N×H×W, or a list of
        single images (PIL, arrays, C×H×W tensors); labels: N whole numbers (a tensor, array or
        list). An item ``(image, label)`` with one label is one image (a torch
        ``IterableDataset``'s items). Dataset index i is the i-th image in iteration order: for a
        shuffled loader (``shuffle=True``) that is not the index in ``loader.dataset``, and another
        pass would give another order. Class names from ``class_names`` or the loader's
        ``dataset.classes``."""
        source = _source_dataset(getattr(batches, "dataset", None))
        return cls._collect(source, _batch_items(batches, _first(limit)), class_names, name or
                            (type(source).__name__.lower() if source is not None else type(batches).__name__.lower()),
                            what=type(batches).__name__)

    @classmethod
    def _collect(cls, dataset: Any, items: Any, class_names: Optional[Sequence[str]], name: Optional[str],
                 what: Optional[str] = None) -> Dataset:
        """The Dataset of ``items`` ((image, label, where) from _inputs.py), the images converted by
        _to_uint8_hwc with the Normalize of ``dataset``'s transform undone; class names from
        ``class_names`` or ``dataset.classes``."""
        given = getattr(dataset, "classes", None)
        if class_names is not None and given is not None and len(class_names) != len(given):
            raise UsageError(f"class_names: {len(class_names)} names for the {len(given)} classes of "
                             f"{type(dataset).__name__} (its .classes)")
        norm = _transform_normalize(dataset)
        images, labels = [], []
        normalised = False
        for img, label, where in items:
            a, undone = _to_uint8_hwc(img, where, norm)
            normalised |= undone
            images.append(a)
            labels.append(_integer(label.item() if hasattr(label, "item") else label, f"{where} label"))
        if not images:
            raise UsageError(f"{what}: no batches, no images" if what else "the dataset has no images")
        shapes = {a.shape for a in images}
        if len(shapes) != 1:
            raise UsageError(f"the dataset's images differ in size ({sorted(shapes)[:3]}...): resize them "
                             "(e.g. transforms.Resize) or use an image folder")
        if class_names is None:
            class_names = given
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


def _indexable(source: Any) -> bool:
    """A torchvision-style dataset (``source[i] -> (image, label)``, with a length) rather than an
    iterable of batches; a list or tuple is one when its first item is an (image, label) pair."""
    if isinstance(source, (list, tuple)):
        return not (source and _is_batch(source[0]))
    return hasattr(source, "__getitem__") and hasattr(source, "__len__")

"""Re-scoring with reviewed labels: camscope.rescore, as ``camscope rescore`` (the same library call)."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Optional, Union

from . import _camscope as _c
from ._args import PathLike, UsageError
from ._report import Report


def _folder(what: str, r: Union[Report, PathLike]) -> str:
    if isinstance(r, Report):
        if not r.out:
            raise UsageError(f"{what}: this Report was not written to a folder (analyze(..., out=DIR, store=True))")
        return r.out
    return os.fspath(r)


def rescore(report: Union[Report, PathLike], tags: Union[PathLike, Mapping[Any, Any]],
            other: Optional[Union[Report, PathLike]] = None, out: Optional[PathLike] = None) -> Dict[str, Any]:
    """An analysis re-scored with the labels a review chose in the explorer (its tags
    ``"relabel:<class index>"``; a ``"relabel"`` without a chosen label is counted, not applied).

    report: the report folder holding ``store/`` (``camscope analyze`` writes it; Python:
        ``analyze(..., out=DIR, store=True)``), a store folder, or such a Report.
    tags: the tags file (``serve --tags FILE``, ``tags.json`` of ``serve --results``, or the offline
        explorer's "tagged JSON" download), or the tags themselves: ``{"tags": {row: [tag, ...]}}`` or
        ``{row: [tag, ...]}`` (rows of the analysis).
    other: a second analysis of the same images (model B): its accuracy under the reviewed labels
        and whether the ranking of the two models changes.
    out: the folder for rescored_summary.json, per_class_rescored.csv, confusion_matrix_rescored.csv
        and changed_images.csv (None: ``<report>/rescored``; the report's own files are not changed).

    Returns rescored_summary.json as a dict (``a``/``b``: accuracy before and after; ``per_class``;
    ``likely_label_errors``: what the review made of them; ``changed_images``; ``ranking`` with
    ``other``), plus ``folder`` (where the files are) and ``text`` (the summary the CLI prints).
    Raises camscope.Error naming the file and field for a malformed tags file, a report without
    its store, or two analyses of different images."""
    path, text = "", ""
    if isinstance(tags, Mapping):
        if "images" in tags and "tags" not in tags:  # the explorer's tagged JSON, loaded
            doc: Dict[str, Any] = {"images": tags["images"]}
        else:
            t = tags["tags"] if "tags" in tags else tags
            if not isinstance(t, Mapping):
                raise UsageError("tags: expected {row: [tag, ...]} or {'tags': {row: [tag, ...]}}")
            doc = {"tags": {str(k): list(v) for k, v in t.items()}}
        path, text = "tags (from Python)", json.dumps(doc)
    else:
        path = os.fspath(tags)
    summary, lines, folder = _c.rescore(_folder("report", report), path, text,
                                        "" if other is None else _folder("other", other),
                                        "" if out is None else os.fspath(out))
    result: Dict[str, Any] = json.loads(summary)
    result["folder"] = folder
    result["text"] = lines
    return result

"""The explorer in Python: camscope.explore serves the explorer web app (``camscope serve``) from
this process for an IFrame (camscope.Explorer); camscope.widget is its ipywidgets version without
a server."""
from __future__ import annotations

import atexit
import html
import weakref
from typing import Any, Optional, Union

import numpy as np

from . import _camscope as _c
from ._args import PathLike, UsageError
from ._data import Dataset
from ._model import Model
from ._report import Report, analyze


class Explorer:
    """The explorer web app served from this process on a loopback port (a background thread);
    shown inline as an IFrame. ``stop()`` ends it (so does the end of the kernel)."""

    report: Report
    height: int

    _running = weakref.WeakSet()  # stopped when the interpreter (the kernel) exits

    def __init__(self, e: Any, report: Report, height: int) -> None:
        self._e, self.report, self.height = e, report, height
        Explorer._running.add(self)

    @property
    def url(self) -> str:
        """The explorer's address (http://127.0.0.1:PORT/)."""
        return self._e.url

    @property
    def port(self) -> int:
        """The loopback port it listens on."""
        return self._e.port

    @property
    def running(self) -> bool:
        """Serving (not stopped)."""
        return self._e.running()

    def stop(self) -> None:
        """Stops the server: requests in flight finish, the port is closed. Returns once it has
        stopped; safe to call again, and from several threads at once (each returns then)."""
        self._e.stop()

    def __repr__(self) -> str:
        return f"camscope.Explorer({self.url}{'' if self.running else ', stopped'})"

    def _repr_html_(self) -> str:
        return (f'<iframe src="{html.escape(self.url)}" width="100%" height="{int(self.height)}" '
                f'style="border:1px solid #ccc" title="camscope explorer"></iframe>')


@atexit.register
def _stop_explorers() -> None:
    for e in list(Explorer._running):
        e.stop()


# The pages that may show the explorer in an IFrame (its answers' Content-Security-Policy
# frame-ancestors): a notebook served from this machine (Jupyter on localhost or 127.0.0.1, any
# port) and VS Code's notebook webviews. `camscope serve` allows none.
NOTEBOOK_FRAME_ANCESTORS = ("'self' http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:* "
                            "vscode-webview: vscode-file:")


def explore(report: Optional[Report] = None, model: Union[Model, PathLike, None] = None,
            data: Union[Dataset, PathLike, None] = None, *, host: str = "127.0.0.1", port: int = 0, height: int = 720,
            frame_ancestors: str = NOTEBOOK_FRAME_ANCESTORS, **analyze_options: Any) -> Explorer:
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


def widget(report: Report, *, per_class: int = 6, method: Optional[str] = None, layer: Optional[str] = None) -> Any:
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


"""The explorer in Python: camscope.explore serves the explorer web app (``camscope serve``) from
this process for an IFrame (camscope.Explorer), at its loopback address or through the notebook
server's proxy (a remote notebook: JupyterHub, a tunnel); camscope.widget is its ipywidgets version
without a server."""
from __future__ import annotations

import atexit
import contextlib
import html
import json
import os
import weakref
from typing import Any, Iterable, Iterator, Optional, Union
from urllib.parse import urlsplit

import numpy as np

from . import _camscope as _c
from ._args import PathLike, UsageError
from ._data import Dataset
from ._model import Model
from ._report import Report, analyze


class Explorer:
    """The explorer web app served from this process on a loopback port (a background thread);
    shown inline as an IFrame at :attr:`frame_url`. ``stop()`` ends it (so does the end of the
    kernel)."""

    report: Report
    height: int
    frame_url: str
    """The address the IFrame loads: :attr:`url`, or the notebook server's proxy path to it
    (``<base_url>proxy/<port>/``, jupyter-server-proxy's convention) in a remote notebook."""

    _running = weakref.WeakSet()  # stopped when the interpreter (the kernel) exits

    def __init__(self, e: Any, report: Report, height: int, frame_url: Optional[str] = None) -> None:
        self._e, self.report, self.height = e, report, height
        self.frame_url = frame_url or e.url
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
        via = f" via {self.frame_url}" if self.frame_url != self.url else ""
        return f"camscope.Explorer({self.url}{via}{'' if self.running else ', stopped'})"

    def _repr_html_(self) -> str:
        # The IFrame, and a script (run where the notebook runs its outputs' scripts) that asks the
        # frame's address from the browser: when it does not answer there (a remote kernel's
        # loopback, a server without a proxy, a Host the explorer refuses) the frame becomes a
        # line saying what failed and what to do instead. The explorer's API answers only its
        # loopback and named hosts, so the check loads the page itself (no data is computed).
        div = f"camscope-explorer-{self.port}-{id(self):x}"
        loopback = self.frame_url == self.url
        return (f'<div id="{div}"><iframe src="{html.escape(self.frame_url)}" width="100%" '
                f'height="{int(self.height)}" style="border:1px solid #ccc" title="camscope explorer"></iframe>'
                f'<script>{_CHECK_SCRIPT % tuple(_js(v) for v in (div, self.frame_url, loopback))}</script>'
                '</div>')


def _js(value: Any) -> str:
    """A JavaScript literal that cannot end the <script> it is in."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


# %s: the div's id, the frame's URL, whether it is the loopback address (a cross-origin fetch: only
# whether it answers can be seen). The explanation names what failed, the URL tried and the fallback.
_CHECK_SCRIPT = """(function () {
  var me = document.currentScript, id = %s, url = %s, loopback = %s;
  var div = (me && me.parentNode && me.parentNode.id === id) ? me.parentNode : document.getElementById(id);
  if (!div || !window.fetch) return;
  function say(what, hint) {
    div.innerHTML = "";
    var p = document.createElement("p");
    p.style.cssText = "border:1px solid #c99;background:#fff6f6;padding:6px 8px;margin:0";
    p.textContent = "camscope explorer: " + what + " " + hint +
      " Without a server: camscope.widget(report) shows the errors and their CAMs in the notebook.";
    div.appendChild(p);
  }
  var abs = new URL(url, document.baseURI).href;
  var req = loopback ? fetch(abs, { mode: "no-cors", cache: "no-store" })
                     : fetch(abs, { credentials: "same-origin", cache: "no-store" });
  req.then(function (res) {
    if (loopback || res.ok) return;
    if (res.status === 403)
      say(abs + " answered 403: the explorer refuses the Host this page is served from.",
          'Pass allow_hosts=["' + location.hostname + '"] to camscope.explore.');
    else if (res.status === 404)
      say(abs + " answered 404: the notebook server has no proxy there (jupyter-server-proxy).",
          "Install jupyter-server-proxy where the notebook server runs, or pass url= the server's proxy path.");
    else
      say(abs + " answered " + res.status + ".", "The explorer may have stopped (explorer.stop(), a restarted kernel).");
  }).catch(function () {
    say(abs + " does not answer from this browser" +
        (loopback ? " (the kernel runs on another machine: JupyterHub, a tunnel)." : "."),
        loopback ? 'Through the proxy of the notebook server (jupyter-server-proxy): camscope.explore(report, ' +
                   'url="/"), the base URL of the notebook server.' : "");
  });
})();"""


@atexit.register
def _stop_explorers() -> None:
    for e in list(Explorer._running):
        e.stop()


# The pages that may show the explorer in an IFrame (its answers' Content-Security-Policy
# frame-ancestors): a notebook served from this machine (Jupyter on localhost or 127.0.0.1, any
# port) and VS Code's notebook webviews. `camscope serve` allows none.
NOTEBOOK_FRAME_ANCESTORS = ("'self' http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:* "
                            "vscode-webview: vscode-file:")


def _proxy_base(url: str) -> Optional[str]:
    """The notebook server's base URL for explore's ``url``: "auto": JupyterHub's
    (JUPYTERHUB_SERVICE_PREFIX, which the single-user server passes to its kernels), else None
    (the loopback address); "loopback": None; another string: itself."""
    if url == "loopback":
        return None
    if url == "auto":
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or None
    return url


def _frame_url(base: str, port: int) -> str:
    """``base`` with "{port}" filled in, or jupyter-server-proxy's ``<base>proxy/<port>/``."""
    if "{port}" in base:
        return base.replace("{port}", str(port))
    return base + ("" if base.endswith("/") else "/") + f"proxy/{port}/"


def _hub_hosts() -> list:
    """The host names JupyterHub names for its public address, when it states one."""
    hosts = []
    for var in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL", "JUPYTERHUB_HOST"):
        name = urlsplit(os.environ.get(var, "")).hostname
        if name and name not in hosts:
            hosts.append(name)
    return hosts


def explore(report: Optional[Report] = None, model: Union[Model, PathLike, None] = None,
            data: Union[Dataset, PathLike, None] = None, *, host: str = "127.0.0.1", port: int = 0, height: int = 720,
            url: str = "auto", allow_hosts: Iterable[str] = (), frame_ancestors: str = NOTEBOOK_FRAME_ANCESTORS,
            **analyze_options: Any) -> Explorer:
    """The interactive explorer (``camscope serve``) inline: of a :class:`Report`, or of ``model`` on
    ``data`` (analysed first, with ``analyze_options``). Returns an :class:`Explorer`.

    ``url``: where the notebook's browser loads it from. ``"auto"`` (default): through the
    notebook server's proxy in JupyterHub (``$JUPYTERHUB_SERVICE_PREFIX/proxy/<port>/``, which
    needs jupyter-server-proxy beside the notebook server), else the loopback address
    ``http://127.0.0.1:<port>/``; ``"loopback"``: always that; another string: the notebook
    server's base URL (``"/"``, ``"/user/me/"``, ``"https://host/base/"``: the explorer is at
    ``<url>proxy/<port>/``), or a URL with ``{port}`` in it. In the notebook, when the browser
    cannot load it, the frame says why and points to :func:`widget`.

    ``allow_hosts``: host names the explorer answers besides its address and localhost (the
    notebook's host when a proxy forwards it, e.g. ``["hub.example.com"]``; in JupyterHub the
    names in JUPYTERHUB_PUBLIC_URL / JUPYTERHUB_PUBLIC_HUB_URL / JUPYTERHUB_HOST are added).

    ``frame_ancestors``: the pages allowed to frame it (CSP sources separated by spaces; default: a
    notebook on this machine, its own origin (a proxy's page) or VS Code; ``"'none'"``: no page, as
    ``camscope serve``)."""
    if report is None:
        if model is None or data is None:
            raise UsageError("explore needs a Report, or model= and data=")
        report = analyze(model, data, **analyze_options)
    elif not isinstance(report, Report):
        raise UsageError(f"explore: expected a camscope.Report, got {type(report).__name__}")
    if not isinstance(url, str) or not url:
        raise UsageError(f"explore: url must be \"auto\", \"loopback\" or a base URL, got {url!r}")
    if isinstance(allow_hosts, str):
        allow_hosts = [allow_hosts]
    base = _proxy_base(url)
    hosts = [str(h) for h in allow_hosts] + (_hub_hosts() if url == "auto" and base else [])
    e = _c.explore(report._r, host, int(port), str(frame_ancestors), hosts)
    frame = _frame_url(base, e.port) if base else None
    return Explorer(e, report, height, frame)


@contextlib.contextmanager
def _widget_state_for_every_client(w: Any) -> Iterator[None]:
    """While camscope.widget builds its widgets: under ipywidgets 6 (Debian 12's), each widget's
    comm_open also carries its state under "state", the key of the ipywidgets 7+ format that
    headless clients read (nbclient 0.7, i.e. `jupyter execute`, fails with KeyError 'state'
    otherwise). The state keys stay where ipywidgets 6's frontend reads them. Newer ipywidgets:
    nothing changes. Only this module's widgets, only while they are built (kernel code runs on
    one thread)."""
    cls = w.Widget
    if int(str(getattr(w, "__version__", "7")).split(".")[0]) >= 7 or getattr(cls.open, "camscope", False):
        yield
        return
    opened = cls.open

    def open_(self):
        if self.comm is not None:
            return
        from ipykernel.comm import Comm

        state, _keys, buffers = self._split_state_buffers(self.get_state())
        args = dict(target_name="jupyter.widget", data=dict(state, state=dict(state)))
        if self._model_id is not None:
            args["comm_id"] = self._model_id
        self.comm = Comm(**args)
        if buffers:  # as ipywidgets 6: binary values follow in an update
            self.send_state()

    open_.camscope = True
    cls.open = open_
    try:
        yield
    finally:
        cls.open = opened


def widget(report: Report, *, per_class: int = 6, method: Optional[str] = None, layer: Optional[str] = None) -> Any:
    """The explorer without a server (ipywidgets): a class dropdown and a choice of errors / correct
    predictions; the chosen images of that class with their CAMs for the predicted and the true
    class, computed live through :meth:`Model.cam` (the report's method and layer unless given) and
    drawn with the CLI's overlay. Runs headless too (``jupyter execute``), with Debian's ipywidgets 6."""
    import ipywidgets as w

    if not isinstance(report, Report):
        raise UsageError(f"widget: expected a camscope.Report, got {type(report).__name__}")
    with _widget_state_for_every_client(w):
        return _build_widget(w, report, per_class, method, layer)


def _build_widget(w: Any, report: Report, per_class: int, method: Optional[str], layer: Optional[str]) -> Any:
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

    def on_change(*_):
        with _widget_state_for_every_client(w):
            show()

    cls.observe(on_change, names="value")
    kind.observe(on_change, names="value")
    show()
    return w.VBox([w.HBox([cls, kind]), grid])


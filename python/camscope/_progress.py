"""Progress bars for the library's long calls: ipywidgets bars in a Jupyter kernel, one redrawn
line on a terminal, a few plain lines otherwise (logs). The C++ side (common.cpp) calls event()
from the thread that made the call, with the GIL held, and checks for Ctrl-C right after."""
import sys
import time

_bar = None  # the bar being drawn: (label, renderer)


def _in_notebook():
    ip = sys.modules.get("IPython")
    if ip is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = ip.get_ipython()
    except Exception:
        return False
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class _Rate:
    """Items per second since the bar's first report (the library reports after the first batch)."""

    def __init__(self):
        self.t0, self.d0 = None, 0

    def __call__(self, done):
        now = time.monotonic()
        if self.t0 is None:
            self.t0, self.d0 = now, done
        dt = now - self.t0
        return (done - self.d0) / dt if dt > 0 else 0.0


class _Widget:
    def __init__(self, label, total):
        import ipywidgets as w
        from IPython.display import display

        self.bar = w.IntProgress(value=0, min=0, max=max(total, 1), description=label[:20])
        self.text = w.HTML()
        self.box = w.HBox([self.bar, self.text])
        self.rate = _Rate()
        display(self.box)

    def update(self, done, total, final):
        self.bar.max = max(total, 1)
        self.bar.value = min(done, self.bar.max)
        rate = self.rate(done)
        self.text.value = f"{done}/{total} ({rate:.1f}/s{', done' if final else ''})"
        if final:
            self.bar.bar_style = "success"


class _Line:
    def __init__(self, label, total):
        self.label, self.rate, self.tty = label, _Rate(), sys.stderr.isatty()
        self.tenth = 0

    def update(self, done, total, final):
        rate = self.rate(done)
        width = 30
        filled = int(width * min(done, total) / total) if total else 0
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate:.1f} it/s"
        if self.tty:
            sys.stderr.write("\r" + line + ("\n" if final else ""))
            sys.stderr.flush()
        elif final or (total and done * 10 // total > self.tenth):
            self.tenth = done * 10 // total if total else 0
            sys.stderr.write(line + "\n")


_last_draw = 0.0


def event(label, done, total, final):
    """One progress report: a new label starts a new bar; drawing is limited to 10 per second."""
    global _bar, _last_draw
    if _bar is None or _bar[0] != label:
        renderer = None
        if _in_notebook():
            try:
                renderer = _Widget(label, total)
            except Exception:  # no usable ipywidgets: the text line still shows progress
                renderer = None
        _bar = (label, renderer or _Line(label, total))
    now = time.monotonic()
    if final or now - _last_draw >= 0.1:
        _last_draw = now
        _bar[1].update(done, total, final)
    if final:
        _bar = None

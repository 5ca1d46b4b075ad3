"""Progress bars for the library's long calls: an HTML ``<progress>`` bar updated in place in a
Jupyter kernel (through IPython's display_id, no ipywidgets: no comm messages, so headless runs
such as ``jupyter execute`` and nbconvert work), one redrawn line on a terminal, a few plain lines
otherwise (logs: one per tenth of the work, and the stage's end once).

The C++ side (src/python/common.cpp, the library's util/progress.hpp sink) calls :func:`event`
from the thread that made the call, with the GIL held, on every step, and checks for Ctrl-C right
after: drawing is limited to 10 per second, and each call does little before that check. The
rate shown is the library's: done / seconds since the stage began; a stage whose first report is
its end (one step) shows its time, no rate."""
from __future__ import annotations

import html
import sys
import time
from typing import Optional

_REDRAW_S = 0.1  # at most 10 draws a second (the final one always)


def _in_notebook() -> bool:
    ip = sys.modules.get("IPython")
    if ip is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = ip.get_ipython()
    except Exception:
        return False
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class _State:
    """One stage's figures and their text: "done/total, 12.3 it/s, ETA 0:42" while it runs, "done/total
    in 1.2 s (12.3 it/s)" at its end; no rate when the stage reported only once (its end)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.done, self.seconds, self.final = 0, 0.0, False
        self.stepped = False  # a report before the end: the stage moved in steps, its rate means something

    def update(self, done: int, total: int, final: bool, seconds: float) -> None:
        if not final and done < total:
            self.stepped = True
        self.done, self.total, self.final, self.seconds = done, total, final, seconds

    def rate(self) -> Optional[float]:
        if not self.stepped or self.done <= 0 or self.seconds <= 0:
            return None
        return self.done / self.seconds

    def counts(self) -> str:
        return f"{self.done}/{self.total}" if self.total else f"{self.done}"

    def figures(self) -> str:
        rate = self.rate()
        if self.final:
            return f"{self.counts()} in {_duration(self.seconds)}" + (f" ({rate:.1f} it/s)" if rate else "")
        text = self.counts()
        if rate:
            text += f", {rate:.1f} it/s"
            if self.total > self.done:
                text += f", ETA {_duration((self.total - self.done) / rate)}"
        return text

    def fraction(self) -> float:
        return min(self.done, self.total) / self.total if self.total else (1.0 if self.final else 0.0)


class _Html:
    """A notebook bar: one display_data output (an HTML <progress>), replaced through its display_id."""

    def __init__(self, state: _State) -> None:
        from IPython.display import display

        self.state = state
        self.handle = display(self._Shown(state), display_id=True)

    class _Shown:
        def __init__(self, state: _State) -> None:
            self.s = state

        def _repr_html_(self) -> str:
            s = self.s
            value = f"{min(s.done, s.total)}" if s.total else ("1" if s.final else "")
            maximum = f"{s.total}" if s.total else "1"
            return (f"<div class='camscope-progress'><progress value='{value}' max='{maximum}' "
                    f"style='width:20em;vertical-align:middle'></progress> <code>{html.escape(s.label)}</code> "
                    f"{html.escape(s.figures())}</div>")

        def __repr__(self) -> str:
            return f"{self.s.label}: {self.s.figures()}"

    def draw(self) -> None:
        self.handle.update(self._Shown(self.state))


class _Line:
    """A terminal bar: one line redrawn with "\\r" on a TTY; else (a log file, a pipe) a line at each
    further tenth of the work before the end, and one at the end."""

    WIDTH = 30

    def __init__(self, state: _State) -> None:
        self.state, self.tty, self.tenth = state, sys.stderr.isatty(), 0

    def line(self) -> str:
        s = self.state
        filled = int(self.WIDTH * s.fraction())
        return f"{s.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {s.figures()}"

    def draw(self) -> None:
        s = self.state
        if self.tty:
            sys.stderr.write("\r" + self.line() + "\033[K" + ("\n" if s.final else ""))
        elif s.final:
            sys.stderr.write(self.line() + "\n")
        elif s.total and s.done < s.total and s.done * 10 // s.total > self.tenth:
            self.tenth = s.done * 10 // s.total
            sys.stderr.write(self.line() + "\n")
        else:
            return
        sys.stderr.flush()


_bar = None  # the stage being drawn: (_State, renderer)
_last_draw = 0.0


def event(label: str, done: int, total: int, final: bool, seconds: float = 0.0) -> None:
    """One progress report from the library: ``done`` of ``total`` after ``seconds`` since the stage
    began; ``final``: its end (sent once). A new label (or the same one starting over) starts a new
    bar; drawing is limited to 10 per second, the end always drawn, once."""
    global _bar, _last_draw
    now = time.monotonic()
    fresh = _bar is None or _bar[0].label != label or done < _bar[0].done
    if not (final or fresh or now - _last_draw >= _REDRAW_S):
        return  # between draws: the cheap way out (the C++ side checks Ctrl-C next)
    if fresh:
        state = _State(label, total)
        renderer = None
        state.update(done, total, final, seconds)  # (before display() draws it)
        if _in_notebook():
            try:
                renderer = _Html(state)
            except Exception:  # no IPython display: the text line still shows progress
                renderer = None
        _bar = (state, renderer or _Line(state))
    state, renderer = _bar
    state.update(done, total, final, seconds)
    _last_draw = now
    if not (fresh and isinstance(renderer, _Html)):  # a new notebook bar was drawn by display()
        renderer.draw()
    if final:
        _bar = None

"""Model.from_torch's work: a live ``torch.nn.Module`` as TorchScript bytes for the C++ loader.

Traced with the gradient path recorded (under ``torch.enable_grad()`` with an example input that
requires grad, so that nn.MultiheadAttention / nn.TransformerEncoderLayer do not record their
inference fast path, which has no backward), then checked against the live module on a second
input (as ``torch.jit.trace``'s ``check_inputs``): a trace that bakes in a data-dependent branch
is refused or replaced by ``torch.jit.script``. When nothing reproduces the module, a
``camscope.Error`` says what failed (tracing, scripting, the check), in which submodule and source
line, and what to change or pass. The caller's module state (training flags, ``requires_grad``)
and grad mode are as they were afterwards.
"""
from __future__ import annotations

import inspect
import io
import linecache
import os
import re
import warnings
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ._args import Error, UsageError

#: The check's tolerance: max |traced - live| <= RTOL * (1 + max |live|) for each output tensor.
#: Tracing and the live module run the same operations, but not always the same kernels (the live
#: module under no_grad takes nn.MultiheadAttention's fast path): ~1e-6 apart on ViT-B/16.
RTOL = 1e-4
#: The second inputs the check tries, in order, until the live module runs on one: (how the
#: messages describe it, how _second_input makes it).
_SECONDS = [("a second input (the example negated and halved, plus seeded noise of the example's spread; same shape "
             "and dtype)", "negated"),
            ("a second input (the example's values in a seeded random order)", "shuffled")]


def to_torchscript(module: Any, example_input: Any, script: bool = False) -> Tuple[bytes, Dict[str, Any]]:
    """``module`` (a ``torch.nn.Module``) as ``torch.jit.save`` bytes, and how it was made.

    module: run in eval mode (every submodule's training flag is restored afterwards).
    example_input: a tensor (or a tuple of tensors: the forward's arguments) of the size the model
    is fed; it is not modified. script: True to ``torch.jit.script`` the module instead of tracing it.

    Returns ``(bytes, how)``; ``how`` is ``{"how": "traced" | "scripted", "why": str, "check":
    {...}, "tracer_warnings": [...]}``: ``why`` says why a trace was replaced by the script ("" when
    traced, "script=True" when asked); ``check`` the largest difference to the live module and
    its tolerance. Raises ``camscope.Error`` when neither tracing nor scripting reproduces the
    module's outputs, ``camscope.UsageError`` for arguments of the wrong type."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise UsageError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    examples = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    for i, t in enumerate(examples):
        if not isinstance(t, torch.Tensor):
            what = "example_input" if len(examples) == 1 else f"example_input[{i}]"
            raise UsageError(f"{what}: expected a torch.Tensor, got {type(t).__name__}")
    title = f"Model.from_torch({type(module).__name__})"
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        live_second, no_check = None, ""
        for described, kind in _SECONDS:  # the first on which the live module runs
            second = tuple(_second_input(t, kind, seed=i) for i, t in enumerate(examples))
            try:
                live_second = _live(module, second)
                break
            except Exception as e:  # the module refuses such data: the next one, else nothing to check against
                no_check = (no_check + "; " if no_check else "") + \
                    _joined(f"the module's own forward fails on {described}", _describe(e, module))
        else:
            described = ""
        no_check = "" if live_second is not None else no_check
        failures: List[str] = []
        if not script:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    traced = _trace(module, examples)
                except Exception as e:
                    traced, trace_error = None, e
            tracer_warnings = [_warning_text(w) for w in caught if w.category.__name__ == "TracerWarning"]
            if traced is None:
                failures.append(_joined("tracing failed", _describe(trace_error, module)))
            else:
                diff = _check(traced, module, [(second, live_second)])
                if diff is None or diff[0] is None:
                    if no_check:
                        warnings.warn(f"camscope: {title}: the trace is not checked: {no_check}", stacklevel=3)
                    return _save(traced), _how("traced", "", diff, no_check, tracer_warnings)
                failures.append(f"the trace differs from the live module on {described}: {diff[0]}"
                                + (f" (torch warned while tracing: {tracer_warnings[0]})" if tracer_warnings else ""))
        else:
            tracer_warnings = []
        try:
            scripted = torch.jit.script(module)
        except Exception as e:
            failures.append(_joined("scripting failed", _describe_script(e, module)))
        else:
            try:
                live_first = _live(module, examples)
            except Exception as e:
                failures.append(_joined("the module's own forward fails on example_input", _describe(e, module)))
                raise Error(_failure_message(title, failures, script)) from None
            diff = _check(scripted, module, [(examples, live_first), (second, live_second)])
            if diff is None or diff[0] is None:
                why = "script=True" if script else failures[0]
                if not script:
                    warnings.warn(f"camscope: {title}: {why}; using torch.jit.script instead, which agrees with the "
                                  "live module on the example and on a second input", stacklevel=3)
                return _save(scripted), _how("scripted", why, diff, no_check, tracer_warnings)
            failures.append(f"the script differs from the live module: {diff[0]}")
    finally:
        for m, was in flags:
            m.training = was
    raise Error(_failure_message(title, failures, script))


def _failure_message(title: str, failures: List[str], script: bool) -> str:
    head = (f"{title}: scripting does not reproduce this module" if script else
            f"{title}: neither tracing nor scripting reproduces this module")
    if script:
        todo = ("make the module scriptable where the scripting error points, or pass script=False to trace it "
                "(from_torch checks the trace against the live module)")
    elif any(f.startswith("the trace differs") for f in failures):
        todo = ("make the branch not depend on the input's values (tracing records the branch the example took), "
                "or make the module scriptable and pass script=True")
    else:
        todo = ("fix what the tracing error points at (the module then traces; from_torch checks the trace against "
                "the live module), or make the module scriptable and pass script=True")
    return head + ":\n" + "".join(f"  - {f}\n" for f in failures) + f"  What to do: {todo}."


def _how(how: str, why: str, diff: Optional[Tuple[Optional[str], float, float]], no_check: str,
         tracer_warnings: List[str]) -> Dict[str, Any]:
    check: Dict[str, Any] = ({"skipped": no_check} if no_check else
                             {"max_abs_diff": diff[1], "tolerance": diff[2]} if diff else {})
    return {"how": how, "why": why, "check": check, "tracer_warnings": tracer_warnings[:5]}


def _save(ts: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.jit.save(ts, buf)
    return buf.getvalue()


def _trace(module: Any, examples: Tuple[Any, ...]) -> Any:
    """The trace with the gradient path: grad mode on and float inputs that require grad (fresh
    leaves, so the caller's tensors are untouched), so that torch's fast-path conditions
    ("grad is enabled and ... requires_grad") fail even when every parameter is frozen."""
    import torch

    args = tuple(t.detach().clone().requires_grad_(True) if t.is_floating_point() or t.is_complex() else t
                 for t in examples)
    with torch.enable_grad():
        return torch.jit.trace(module, args[0] if len(args) == 1 else args, strict=False, check_trace=False)


def _second_input(t: Any, kind: str, seed: int) -> Any:
    """Same shape, dtype and device as ``t``, other values (seeded). kind "negated": floats
    -t/2 + noise of t's spread (the sign of the mean flips, the scale changes), integers and
    booleans drawn in t's range; "shuffled": t's own values in a random order (its range and
    statistics, for a module that refuses values outside them)."""
    import torch

    g = torch.Generator().manual_seed(1234 + seed)
    x = t.detach().cpu()
    if kind == "shuffled":
        out = x.flatten()[torch.randperm(x.numel(), generator=g)].reshape(x.shape)
    elif x.is_floating_point():
        spread = float(x.float().std()) if x.numel() > 1 else 1.0
        spread = spread if spread > 0 and spread == spread and spread != float("inf") else 1.0
        out = -0.5 * x.float() + spread * torch.randn(x.shape, generator=g)
    elif x.dtype == torch.bool:
        out = torch.rand(x.shape, generator=g) < 0.5
    else:
        lo, hi = (int(x.min()), int(x.max())) if x.numel() else (0, 1)
        out = torch.randint(lo, hi + 1, x.shape, generator=g)
    return out.to(dtype=t.dtype, device=t.device)


def _live(module: Any, inputs: Tuple[Any, ...]) -> Any:
    import torch

    with torch.no_grad():
        return module(*inputs)


def _leaves(out: Any, path: str = "output") -> Iterator[Tuple[str, Any]]:
    """The output's tensors (and other values) by path; a namedtuple as the tuple a trace gives."""
    if isinstance(out, dict):
        for k, v in out.items():
            yield from _leaves(v, f"{path}[{k!r}]")
    elif isinstance(out, (list, tuple)):
        for i, v in enumerate(out):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, out


def _check(ts: Any, module: Any, cases: List[Tuple[Tuple[Any, ...], Any]]) -> Optional[Tuple[Optional[str], float, float]]:
    """(what differs or None, largest |ts - live|, its tolerance) over ``cases`` (inputs, live
    output); None when there is nothing to check (the live module failed on the second input)."""
    import torch

    worst, worst_tol = 0.0, 0.0
    for inputs, ref in cases:
        if ref is None:
            continue
        try:
            with torch.no_grad():
                got = ts(*inputs)
        except Exception as e:
            return f"it fails where the live module runs: {_first_line(e)}", float("inf"), 0.0
        a, b = list(_leaves(got)), list(_leaves(ref))
        if [p for p, _ in a] != [p for p, _ in b]:
            return (f"the outputs' structure differs: {_structure(a)} against the live module's {_structure(b)}",
                    float("inf"), 0.0)
        for (path, x), (_, y) in zip(a, b):
            if not isinstance(y, torch.Tensor) or not isinstance(x, torch.Tensor):
                if x != y:
                    return f"{path} is {x!r}, the live module's {y!r}", float("inf"), 0.0
                continue
            if x.shape != y.shape:
                return f"{path} has shape {list(x.shape)}, the live module's {list(y.shape)}", float("inf"), 0.0
            if x.numel() == 0:
                continue
            xd, yd = x.detach().double().cpu(), y.detach().double().cpu()
            both_nan = torch.isnan(xd) & torch.isnan(yd)
            d = (xd - yd).abs().masked_fill(both_nan, 0.0)
            d = d.masked_fill(torch.isinf(xd) & (xd == yd), 0.0)
            err = float(d.max()) if not torch.isnan(d).any() else float("nan")
            scale = float(yd.abs().masked_fill(~torch.isfinite(yd), 0.0).max())
            tol = RTOL * (1.0 + scale)
            if not err <= tol:
                return (f"{path} differs by up to {err:.3g} (tolerance {tol:.2g}; the live module's largest |value| "
                        f"is {scale:.3g})", err, tol)
            if err >= worst:
                worst, worst_tol = err, tol
    return None, worst, worst_tol


def _structure(leaves: List[Tuple[str, Any]]) -> str:
    return "[" + ", ".join(f"{p} {list(v.shape)}" if hasattr(v, "shape") else p for p, v in leaves) + "]"


# -- where an error comes from

def _module_names(module: Any) -> Dict[int, str]:
    return {id(m): (n or "the root module") for n, m in module.named_modules()}


def _joined(head: str, description: str) -> str:
    return f"{head} {description}" if description.startswith(("in ", "at ")) else f"{head}: {description}"


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    if line.count("(") > line.count(")") and " (" in line:  # torch's first line stops inside a parenthesis
        line = line[:line.rfind(" (")]
    return f"{type(e).__name__}: {line}"


def _describe(e: BaseException, module: Any) -> str:
    """'in <submodule path> (<type>), <file>:<line> `<code>`: <error> — <hint>' for an exception
    from the module's Python forward (tracing or running it): the innermost submodule being
    called and the innermost source line outside torch, from the traceback."""
    import torch

    names = _module_names(module)
    torch_dir = os.path.dirname(torch.__file__) + os.sep
    here = os.path.dirname(__file__) + os.sep
    inner, line = None, None
    tb = e.__traceback__
    while tb is not None:
        f = tb.tb_frame
        me = f.f_locals.get("self")
        if f.f_code.co_name in ("_call_impl", "_slow_forward") and id(me) in names:
            inner = me
        fn = f.f_code.co_filename
        if not fn.startswith(torch_dir) and not fn.startswith(here):
            line = (fn, tb.tb_lineno)
        tb = tb.tb_next
    where = ""
    if inner is not None:
        where = f"in {names[id(inner)]} ({type(inner).__name__})"
    if line is not None:
        code = linecache.getline(line[0], line[1]).strip()
        where += (", " if where else "at ") + f"{os.path.basename(line[0])}:{line[1]}" + (f" `{code}`" if code else "")
    return (where + ": " if where else "") + _first_line(e) + _hint(str(e))


def _describe_script(e: BaseException, module: Any) -> str:
    """As _describe, for torch.jit.script's error: its text names the source location (the first
    'File "...", line N') and often the module type ("Module 'X' has no attribute"); the
    submodules are those whose class defines that line (or has that type name)."""
    text = str(e)
    loc = re.search(r'File "([^"]+)", line (\d+)', text)
    paths: List[str] = []
    typename = ""
    if loc:
        fn, ln = loc.group(1), int(loc.group(2))
        for n, m in module.named_modules():
            try:
                src, start = inspect.getsourcelines(type(m))
                if os.path.samefile(inspect.getsourcefile(type(m)) or "", fn) and start <= ln < start + len(src):
                    paths.append(n or "the root module")
                    typename = type(m).__name__
            except (OSError, TypeError):
                continue
    if not paths:
        named = re.search(r"Module '(\w+)'", text) or re.search(r"on class: __torch__\.[\w.]*?\.?(\w+) ", text)
        if named:
            typename = named.group(1)
            paths = [n or "the root module" for n, m in module.named_modules() if type(m).__name__ == typename]
    where = ""
    if paths:
        shown = ", ".join(paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")
        where = f"in {shown} ({typename})"
    if loc:
        code = linecache.getline(loc.group(1), int(loc.group(2))).strip()
        where += (", " if where else "at ") + f"{os.path.basename(loc.group(1))}:{loc.group(2)}" + \
            (f" `{code}`" if code else "")
    return (where + ": " if where else "") + _first_line(e) + _hint(text)


def _hint(text: str) -> str:
    if re.search(r"must be .*of ints, not Tensor|not Tensor", text) and "argument" in text:
        return (" (while tracing, sizes such as x.size()[3] or x.shape[-1] are tensors: wrap them in int(...), which "
                "bakes the size in, or use a size-free operation, e.g. F.adaptive_avg_pool2d(x, 1) for "
                "F.avg_pool2d(x, x.size()[3]))")
    if "Can't redefine method" in text:
        return (" (torch says this when scripting this class failed earlier in this Python process: that first "
                "attempt's error is the one that says why; a new process shows it again)")
    if "failed to compile it to a TorchScript function" in text or "Lambda aren't supported" in text:
        return (" (TorchScript cannot compile a Python lambda or function stored on a module: make it a method "
                "or an nn.Module)")
    return ""


def _warning_text(w: Any) -> str:
    first = str(w.message).splitlines()[0] if str(w.message) else ""
    first = first.split(". ")[0].rstrip(".") + "."  # torch's TracerWarnings: the first sentence says it
    return f"{os.path.basename(w.filename)}:{w.lineno}: {first}"

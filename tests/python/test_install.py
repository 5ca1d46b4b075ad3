"""The README's Python install, tried as a user does it, from a clean copy of the source (the
tracked files, no build directory) in a fresh venv with the system's site packages (Debian's
torch, numpy, pybind11, ipykernel): `pip install --no-build-isolation .` (offline: PIP_NO_INDEX),
then camscope imported from the venv predicts and draws CAMs on the tiny fixture equal to the
test suite's own build, the venv's kernel is registered for Jupyter (into a temporary
JUPYTER_DATA_DIR) and runs the example notebook headless on it with `jupyter-execute`.

The build is setup.py's CMake build of the module (its library and bindings, no tests): minutes
with a warm ccache (the suite's own build fills it: setup.py builds in ./build-python of the copy
with CCACHE_BASEDIR, which hashes as the suite's ./build), about 10 minutes cold on 2 cores.
CAMSCOPE_SKIP_INSTALL_TEST=1 skips it (a machine without ccache's entries and in a hurry)."""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import camscope

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.environ.get("CAMSCOPE_FIXTURES_DIR", os.path.join(ROOT, "tests", "fixtures"))
KERNEL = "camscope-install-test"

pytestmark = pytest.mark.skipif(os.environ.get("CAMSCOPE_SKIP_INSTALL_TEST") == "1",
                                reason="CAMSCOPE_SKIP_INSTALL_TEST=1")


def source_files():
    """The source tree's files as a clean clone has them (tracked and not ignored; symlinks as links)."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
        return [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: the tree without build outputs
        files = []
        for d, dirs, names in os.walk(ROOT):
            dirs[:] = [x for x in dirs if not (x.startswith("build") or x in (".git", "node_modules", "__pycache__"))]
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
        return files


def copy_source(dst):
    for f in source_files():
        src, out = os.path.join(ROOT, f), os.path.join(dst, f)
        if not os.path.lexists(src) or f.startswith("build"):
            continue
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if os.path.islink(src):  # tests/malformed has links to /dev/zero: never read through them
            os.symlink(os.readlink(src), out)
        elif os.path.isfile(src):
            shutil.copy2(src, out)


def run(cmd, env, cwd, timeout):
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - t0
    assert r.returncode == 0, f"{' '.join(cmd)} failed ({r.returncode}) after {took:.0f} s:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    print(f"{' '.join(cmd)[:100]!r}: {took:.0f} s")
    return r


@pytest.fixture
def workdir(tmp_path):
    yield tmp_path
    shutil.rmtree(tmp_path / "camscope" / "build-python", ignore_errors=True)  # ~650 MB of objects


def test_readme_install_in_a_fresh_venv(workdir):
    tmp_path = workdir
    src = tmp_path / "camscope"
    copy_source(src)
    assert not (src / "build").exists() and (src / "setup.py").is_file()
    venv = tmp_path / "venv"
    # The venv's python alone: not the suite's module (PYTHONPATH), no package index (offline CI).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", OMP_WAIT_POLICY="PASSIVE",
               JUPYTER_DATA_DIR=str(tmp_path / "jupyter"), PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop("CAMSCOPE_BUILD_DIR", None)
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], env, tmp_path, 300)
    py = str(venv / "bin" / "python")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # as `source venv/bin/activate`
    env["VIRTUAL_ENV"] = str(venv)

    # The README's command, in the copy.
    r = run(["pip", "install", "-v", "--no-build-isolation", "."], env, src, 3000)
    assert "Successfully installed camscope" in r.stdout
    stages = [l.strip() for l in (r.stdout + r.stderr).splitlines() if l.strip().startswith("camscope: ")]  # setup.py's, shown by -v
    assert any("configuring with CMake in" in l and "build-python" in l for l in stages), stages
    assert stages[-1].startswith("camscope: built _camscope"), stages

    # camscope from the venv: its own module, and the same numbers as the suite's build.
    out = tmp_path / "out.npz"
    check = (
        "import sys, numpy as np, camscope\n"
        "assert camscope.__file__.startswith(sys.prefix), camscope.__file__\n"
        f"m, d = camscope.Model({str(os.path.join(FIX, 'tiny_cifar10_model.pt'))!r}), "
        f"camscope.Dataset({str(os.path.join(FIX, 'tiny_cifar10'))!r})\n"
        "p = m.predict(d, limit=16, progress=False)\n"
        "maps = m.cam(d, 'pred', method='gradcam', indices=range(4), progress=False)\n"
        f"np.savez({str(out)!r}, logits=np.asarray(p.logits), maps=maps)\n"
        "print(camscope.__file__)\n")
    r = run([py, "-c", check], env, tmp_path, 600)
    assert str(venv) in r.stdout
    got = np.load(out)
    model = camscope.Model(os.path.join(FIX, "tiny_cifar10_model.pt"))
    data = camscope.Dataset(os.path.join(FIX, "tiny_cifar10"))
    want_logits = np.asarray(model.predict(data, limit=16, progress=False).logits)
    want_maps = model.cam(data, "pred", method="gradcam", indices=range(4), progress=False)
    assert got["logits"].shape == want_logits.shape == (16, 10)
    np.testing.assert_allclose(got["logits"], want_logits, atol=1e-5)
    np.testing.assert_allclose(got["maps"], want_maps, atol=1e-6)

    # The venv's kernel for Jupyter, as the README registers it.
    run([py, "-m", "ipykernel", "install", "--user", "--name", KERNEL, "--display-name", "Python (camscope)"],
        env, tmp_path, 120)
    spec = json.loads((tmp_path / "jupyter" / "kernels" / KERNEL / "kernel.json").read_text())
    assert spec["argv"][0] == py and spec["display_name"] == "Python (camscope)"

    # The example notebook headless on that kernel, as the README runs it.
    nb_env = dict(env)
    nb_env.pop("CAMSCOPE_FIXTURES_DIR", None)  # the notebook finds ../tests/fixtures of the copy
    exe = shutil.which("jupyter-execute", path=env["PATH"]) or "/usr/bin/jupyter-execute"  # Debian's python3-nbclient
    run([exe, f"--kernel_name={KERNEL}", "examples/analyze_in_notebook.ipynb"], nb_env, src, 900)

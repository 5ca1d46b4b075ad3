"""Builds camscope._camscope with the project's CMake build (CAMSCOPE_PYTHON=ON) for the Python
running this install, against that Python's torch (torch.utils.cmake_prefix_path) and pybind11.
Metadata lives in pyproject.toml.

Where it builds: an existing CMake build directory configured from this source tree against the
same torch is reused (only the module's target is built there): CAMSCOPE_BUILD_DIR=path names one,
else ./build (scripts/build.sh's) is used when it is one. Otherwise a fresh build in ./build-python
(the module only: no tests, no benchmark), with ccache when it is installed and paths relative to
the source tree (CCACHE_BASEDIR, as scripts/build.sh): a directory beside the sources, so any
other copy's ./build or ./build-python shares the cache's entries.

Environment: CMAKE_ARGS adds CMake arguments; CAMSCOPE_JOBS sets the build's parallelism (default:
every core); CAMSCOPE_BUILD_DIR as above.

Progress: one line per stage and the build's percentage go to stderr, which pip shows with
`pip install -v`; without -v pip hides them, so they go to the terminal (/dev/tty) too when
there is one."""
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class _Say:
    """Stage lines on stderr, and on the terminal when stderr is pip's captured pipe."""

    def __init__(self):
        self.tty = None
        if not sys.stderr.isatty():
            try:
                self.tty = open("/dev/tty", "w")
            except OSError:
                self.tty = None

    def __call__(self, line):
        print(f"camscope: {line}", file=sys.stderr, flush=True)
        if self.tty:
            try:
                print(f"camscope: {line}", file=self.tty, flush=True)
            except OSError:
                self.tty = None


def _cache_entry(cache, name):
    m = re.search(rf"^{name}:[A-Z]+=(.*)$", cache, re.MULTILINE)
    return m.group(1).strip() if m else None


def _reusable(build, torch_prefix):
    """Why `build` cannot be reused (None: it can): it must be a CMake build directory configured
    from this source tree, with the torch of this Python's torch package (or none found yet), for
    a Python that loads the same module file (its extension suffix). Its settings stay as they are."""
    cache_file = build / "CMakeCache.txt"
    if not cache_file.is_file():
        return f"{build} has no CMakeCache.txt (not a configured CMake build directory)"
    cache = cache_file.read_text(errors="replace")
    home = _cache_entry(cache, "CMAKE_HOME_DIRECTORY")
    if home is None or Path(home).resolve() != ROOT:
        return f"{build} was configured from {home or 'an unknown source'}, not from {ROOT}"
    torch_dir = _cache_entry(cache, "Torch_DIR")
    # Debian's python3-torch has no share/cmake: a build of it finds the system LibTorch, as this one would.
    if torch_dir and not torch_dir.endswith("-NOTFOUND") and Path(torch_prefix).is_dir():
        found, ours = Path(torch_dir).resolve(), Path(torch_prefix).resolve()
        if ours not in found.parents and found != ours:
            return f"{build} uses the torch in {torch_dir}, this Python's is in {torch_prefix}"
    ext, ours = _cache_entry(cache, "PYTHON_MODULE_EXTENSION"), sysconfig.get_config_var("EXT_SUFFIX")
    if ext and ours and ext != ours:
        return f"{build} builds the module for another Python ({ext}, this one loads {ours})"
    return None


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        import torch
        import pybind11

        say = _Say()
        t0 = time.monotonic()
        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        prefix = ";".join([torch.utils.cmake_prefix_path, pybind11.get_cmake_dir()])
        args = ["-DCAMSCOPE_PYTHON=ON"]
        named = os.environ.get("CAMSCOPE_BUILD_DIR")
        build = Path(named).expanduser().resolve() if named else ROOT / "build"
        why_not = _reusable(build, torch.utils.cmake_prefix_path)
        if why_not is None:  # its Python, torch and options stay: pybind11 is all it may lack
            say(f"reusing the CMake build in {build}" + (" (CAMSCOPE_BUILD_DIR)" if named else ""))
            found = _cache_entry((build / "CMakeCache.txt").read_text(errors="replace"), "pybind11_DIR")
            if not found or found.endswith("-NOTFOUND"):
                args.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        else:  # a fresh build of the module only
            if named:
                say(f"CAMSCOPE_BUILD_DIR not reused: {why_not}")
            build = ROOT / "build-python"
            why_not = _reusable(build, torch.utils.cmake_prefix_path)
            if why_not is not None and (build / "CMakeCache.txt").is_file():
                say(f"starting {build} again: {why_not}")
                (build / "CMakeCache.txt").unlink()
            build.mkdir(parents=True, exist_ok=True)
            args += [f"-DCMAKE_PREFIX_PATH={prefix}", f"-DPYTHON_EXECUTABLE={sys.executable}",
                     "-DCMAKE_BUILD_TYPE=Release", "-DCAMSCOPE_BUILD_TESTS=OFF", "-DCAMSCOPE_BUILD_BENCH=OFF"]
        args += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        env = dict(os.environ)
        env.setdefault("CCACHE_BASEDIR", str(ROOT))  # as scripts/build.sh: other copies share the cache
        env.setdefault("CCACHE_SLOPPINESS", "pch_defines,time_macros,include_file_mtime,include_file_ctime")
        say(f"configuring with CMake in {build} (torch {torch.__version__} from {Path(torch.__file__).parent})")
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build)] + args, check=True, env=env)
        cache = (build / "CMakeCache.txt").read_text(errors="replace")
        launcher = _cache_entry(cache, "CMAKE_CXX_COMPILER_LAUNCHER") or _cache_entry(cache, "CCACHE_PROGRAM")
        if launcher and launcher.endswith("-NOTFOUND"):
            launcher = None
        jobs = os.environ.get("CAMSCOPE_JOBS", str(os.cpu_count() or 1))
        say(f"building the module with {jobs} jobs ({'ccache: ' + launcher if launcher else 'no ccache'})"
            + ("" if why_not is None else "; a first build without ccache's entries takes about 10 minutes on "
               "2 cores, `pip install -v` shows every step"))
        self._build(["cmake", "--build", str(build), "--target", "_camscope", "-j", jobs], env, say)
        built = next((build / "python" / "camscope").glob("_camscope*.so"))
        out_dir.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(built), str(out_dir / built.name))
        say(f"built {built.name} in {time.monotonic() - t0:.0f} s")

    @staticmethod
    def _build(cmd, env, say):
        """Runs the build, its output to stderr as it comes; every 10% more (CMake's "[ NN%]")
        also a stage line for the terminal."""
        shown = -10
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace") as p:
            for line in p.stdout:
                sys.stderr.write(line)
                m = re.match(r"\[\s*(\d+)%\]", line)
                if m and int(m.group(1)) >= shown + 10:
                    shown = int(m.group(1))
                    say(f"{shown}% {line[m.end():].strip()[:100]}")
        if p.returncode:
            raise subprocess.CalledProcessError(p.returncode, cmd)


setup(ext_modules=[CMakeExtension("camscope._camscope")], cmdclass={"build_ext": CMakeBuild})

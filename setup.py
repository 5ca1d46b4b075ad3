"""Builds camscope._camscope with the project's CMake build (CAMSCOPE_PYTHON=ON) for the Python
running this install, against that Python's torch (torch.utils.cmake_prefix_path) and pybind11.
Metadata lives in pyproject.toml. CMAKE_ARGS (environment) adds CMake arguments; CAMSCOPE_JOBS
sets the build's parallelism (default: every core)."""
import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        import torch
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build = Path(self.build_temp).resolve() / "cmake"
        build.mkdir(parents=True, exist_ok=True)
        prefix = ";".join([torch.utils.cmake_prefix_path, pybind11.get_cmake_dir()])
        args = [
            f"-DCMAKE_PREFIX_PATH={prefix}",
            f"-DPYTHON_EXECUTABLE={sys.executable}",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DCAMSCOPE_PYTHON=ON",
            "-DCAMSCOPE_BUILD_TESTS=OFF",
            "-DCAMSCOPE_BUILD_BENCH=OFF",
        ] + shlex.split(os.environ.get("CMAKE_ARGS", ""))
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build)] + args, check=True)
        jobs = os.environ.get("CAMSCOPE_JOBS", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", str(build), "--target", "_camscope", "-j", jobs], check=True)
        built = next((build / "python" / "camscope").glob("_camscope*.so"))
        out_dir.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(built), str(out_dir / built.name))


setup(ext_modules=[CMakeExtension("camscope._camscope")], cmdclass={"build_ext": CMakeBuild})

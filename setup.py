"""Build steps that pyproject.toml cannot declare; the metadata is in pyproject.toml.

1. The optional compiled step-path kernels (``unimal_gym.envs._kernels``). Without a C compiler the
   install succeeds and the environments use their numpy code paths, which give bitwise the same
   results, more slowly (``unimal_gym.envs.ACCELERATED``).
2. The bundled robot sets: ``morphologies/{train,test}`` (the repository's source of truth) are copied
   into the built package as ``unimal_gym/morphologies/``, so a wheel finds them from any folder. An
   editable install reads them from the checkout instead (``unimal_gym.envs.robots``).
"""

import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED_SETS = ("train", "test")


class BuildExt(build_ext):
    """Compile without floating-point contraction, so the kernels round exactly as numpy does."""

    def build_extensions(self) -> None:
        if self.compiler.compiler_type == "msvc":
            flags = ["/O2", "/fp:strict"]
        else:
            flags = ["-O3", "-ffp-contract=off", "-fno-fast-math"]
        for extension in self.extensions:
            extension.extra_compile_args = flags
        super().build_extensions()


class BuildPy(build_py):
    """Copy the bundled robot sets (XML, metadata JSON, set.json) into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "unimal_gym" / "morphologies"
        for name in BUNDLED_SETS:
            source = ROOT / "morphologies" / name
            if not (source / "xml").is_dir():
                raise FileNotFoundError(f"bundled robot set missing from the source tree: {source}/xml")
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(
    ext_modules=[Extension("unimal_gym.envs._kernels", ["unimal_gym/envs/_kernels.c"], optional=True)],
    cmdclass={"build_ext": BuildExt, "build_py": BuildPy},
)

"""Build the optional compiled step-path kernels (``unimal_gym.envs._kernels``); metadata is in pyproject.toml.

The extension is optional: without a C compiler the install succeeds and the environments use their
numpy code paths, which give bitwise the same results, more slowly (``unimal_gym.envs.ACCELERATED``).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


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


setup(
    ext_modules=[Extension("unimal_gym.envs._kernels", ["unimal_gym/envs/_kernels.c"], optional=True)],
    cmdclass={"build_ext": BuildExt},
)

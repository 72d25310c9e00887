"""The argument parser of every command line of the project (``unimal-gym`` and ``python -m baselines.…``).

:class:`ArgumentParser` is argparse's, with one change: a wrong argument (an unknown option, ``--epochs abc``, a
missing value) is one line on stderr, ``PROG: error: MESSAGE (see PROG --help)``, and exit status 2, as every other
user error of the project. argparse itself prints its whole usage block first (up to 20 lines for the pipeline).
"""

from __future__ import annotations

import argparse
from typing import NoReturn


class ArgumentParser(argparse.ArgumentParser):
    """:class:`argparse.ArgumentParser` whose errors are one line (its sub-command parsers too)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` to stderr and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


__all__ = ["ArgumentParser"]

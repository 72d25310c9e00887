"""Progress of a long job: a bar on a terminal, one line per step in a log file.

:class:`Progress` is what PPO (per iteration), collection (per robot), distillation (per epoch) and
evaluation (per robot) report through. On a terminal it draws a tqdm bar on stderr (count, rate, time
left) and prints each step's line above it; when the output is not a terminal (a log file, ``nohup``, CI)
it prints only the lines, as plain text, so logs stay greppable and free of carriage returns. Without a
line sink (``write=None``) it is silent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

_bars = True  # False in a process whose lines another process prints (lines_only)


def lines_only() -> None:
    """No bars from now on in this process, only lines: a worker whose lines another process prints (two
    processes' bars on one terminal would overwrite each other and the lines)."""
    global _bars
    _bars = False


def print_line(line: str) -> None:
    """The default line sink: print and flush (so a log file shows each line as it happens)."""
    print(line, flush=True)


class Progress:
    """A progress bar with lines, or just lines.

    :param total: steps in the whole job (e.g. iterations).
    :param desc: the bar's label.
    :param unit: what a step is (``"it"``, ``"robot"``, ``"epoch"``).
    :param initial: steps already done (a resumed job).
    :param write: where the lines go (``print``, or a caller's logger); None: no output at all.
    :param bar_stream: where the bar goes (stderr); a bar is drawn only if it is a terminal.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "it",
        initial: int = 0,
        write: Callable[[str], None] | None = print_line,
        bar_stream: TextIO | None = None,
    ) -> None:
        self._write = write
        stream = bar_stream if bar_stream is not None else sys.stderr
        self._bar: Any = None
        if write is not None and _bars and getattr(stream, "isatty", lambda: False)():
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm is in the baselines extra; without it, lines only
                return
            self._bar = tqdm(
                total=total, initial=initial, desc=desc, unit=unit, file=stream, dynamic_ncols=True, leave=True
            )

    @property
    def has_bar(self) -> bool:
        """True when a bar is drawn."""
        return self._bar is not None

    def write(self, line: str) -> None:
        """A line of text: above the bar, or on its own."""
        if self._write is None:
            return
        if self._bar is not None:
            with self._bar.external_write_mode():  # clears the bar, writes, redraws it
                self._write(line)
        else:
            self._write(line)

    def advance(self, n: int = 1, status: str = "") -> None:
        """``n`` more steps done; ``status`` (short: "return 213.8") is shown beside the bar."""
        if self._bar is not None:
            if status:
                self._bar.set_postfix_str(status, refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        """Finish the bar (no-op without one)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

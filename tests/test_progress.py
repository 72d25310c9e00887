"""Progress of long jobs: a bar on a terminal with the lines above it; plain lines in a log; silence when asked."""

from __future__ import annotations

import io

from baselines.common.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_and_every_line() -> None:
    screen, lines = Terminal(), []
    with Progress(4, "PPO", "it", initial=1, write=lines.append, bar_stream=screen) as bar:
        assert bar.has_bar
        for k in range(2, 5):
            bar.advance(1, status=f"return {k}.0")
            bar.write(f"[{k}/4] done")
    assert lines == ["[2/4] done", "[3/4] done", "[4/4] done"]
    drawn = screen.getvalue()
    assert "PPO" in drawn and "4/4" in drawn and "return 4.0" in drawn


def test_a_log_file_gets_plain_lines_only() -> None:
    log, lines = io.StringIO(), []
    bar = Progress(3, "collect", "robot", write=lines.append, bar_stream=log)
    assert not bar.has_bar
    bar.advance(1)
    bar.write("[1/3] robot-a: 2000 transitions")
    bar.close()
    assert lines == ["[1/3] robot-a: 2000 transitions"] and log.getvalue() == ""


def test_no_sink_means_silence_even_on_a_terminal() -> None:
    screen = Terminal()
    bar = Progress(3, "distill", "epoch", write=None, bar_stream=screen)
    bar.advance(3)
    bar.write("never shown")
    bar.close()
    assert not bar.has_bar and screen.getvalue() == ""

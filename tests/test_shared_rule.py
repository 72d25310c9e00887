"""The rule for ../shared (tests/conftest.py): without it a plain clone skips the tests that need it, and CI
(``CI`` set to any non-empty value) refuses to run at all rather than skip them."""

from __future__ import annotations

import conftest
import pytest
from conftest import SHARED, ci_refusal


@pytest.mark.parametrize("value", ["1", "true"])
def test_ci_without_shared_is_refused_in_one_line(value: str) -> None:
    message = ci_refusal({"CI": value}, have_shared=False)
    assert message is not None and "\n" not in message
    assert str(SHARED) in message and "CI" in message


@pytest.mark.parametrize(("environ", "have_shared"), [({}, False), ({"CI": ""}, False), ({"CI": "1"}, True)])
def test_no_refusal_outside_ci_or_with_shared(environ: dict[str, str], have_shared: bool) -> None:
    assert ci_refusal(environ, have_shared) is None


def test_configure_hook_stops_a_ci_run_without_shared(
    monkeypatch: pytest.MonkeyPatch, pytestconfig: pytest.Config
) -> None:
    monkeypatch.setattr(conftest, "HAVE_SHARED", False)
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.UsageError, match=r"CI is set but .* is missing"):
        conftest.pytest_configure(pytestconfig)
    monkeypatch.delenv("CI")
    conftest.pytest_configure(pytestconfig)  # outside CI: the run goes on, the tests that need ../shared skip

"""Paired statistics: the teacher gate and the bootstrap comparison against hand computations and invariants."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from baselines.common.stats import StatisticsError, compare, gate


def test_gate_is_the_paired_mean_against_two_standard_errors() -> None:
    teacher, zero = [12.0, 15.0, 9.0, 20.0], [10.0, 10.0, 10.0, 10.0]
    d = np.array([2.0, 5.0, -1.0, 10.0])
    g = gate(teacher, zero)
    assert g.teacher_minus_zero == pytest.approx(d.mean())
    assert g.se == pytest.approx(d.std(ddof=1) / 2.0)
    assert g.passed == (d.mean() > 2 * d.std(ddof=1) / 2.0) and g.robots == 4
    assert not gate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).passed  # no difference: never passes
    assert gate([11.0, 12.1, 13.0], [1.0, 2.0, 3.0]).passed
    assert gate(teacher, zero).to_dict()["passed"] == g.passed


def test_a_constant_shift_gives_a_point_interval_and_the_sign_gives_the_verdict() -> None:
    teacher = np.array([10.0, 20.0, 30.0, 40.0])
    for shift, verdict in ((-2.0, "behind"), (3.0, "ahead")):
        c = compare(teacher + shift, teacher)
        assert c.mean == pytest.approx(shift) and c.ci95 == pytest.approx((shift, shift)) and c.verdict == verdict
    same = compare(teacher, teacher)
    assert same.verdict == "matches" and same.ratio == 1.0
    assert compare(teacher * 0.5, teacher).ratio == pytest.approx(0.5)


def test_the_interval_contains_the_mean_is_reproducible_and_covers_95_percent() -> None:
    rng = np.random.default_rng(0)
    teacher = rng.normal(100, 30, size=20)
    student = teacher + rng.normal(-1, 5, size=20)
    c = compare(student, teacher)
    assert c.ci95[0] <= c.mean <= c.ci95[1] and compare(student, teacher) == c
    covered = 0
    for trial in range(200):  # true mean difference 0: the interval should contain it ~95 % of the time
        noise = np.random.default_rng(trial).normal(0, 5, size=30)
        lo, hi = compare(teacher[:1].repeat(30) + noise, teacher[:1].repeat(30), samples=2000).ci95
        covered += lo <= 0 <= hi
    assert 0.88 <= covered / 200 <= 0.99


def test_several_seeds_are_resampled_within_robots() -> None:
    teacher = np.array([10.0, 20.0, 30.0])
    seeds = np.array([teacher + 1.0, teacher + 3.0])  # (2 seeds, 3 robots): mean shift 2
    c = compare(seeds, teacher)
    assert c.mean == pytest.approx(2.0) and 1.0 <= c.ci95[0] <= c.ci95[1] <= 3.0 and c.verdict == "ahead"
    assert c.ci95[0] < 2.0 < c.ci95[1]  # seed noise widens the interval


def test_unpaired_inputs_are_refused() -> None:
    with pytest.raises(StatisticsError, match="same length"):
        gate([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(StatisticsError, match="at least 2 robots"):
        compare([1.0], [2.0])
    with pytest.raises(StatisticsError, match="finite"):
        gate([1.0, float("nan")], [0.0, 0.0])

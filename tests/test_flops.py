"""The paper's Table 1 from our own modules (docs/networks.md §11): counted by walking the built networks."""

from __future__ import annotations

import pytest
from nets_data import one_torch_thread  # noqa: F401  (autouse fixture)

from baselines.flops import count, example_observation, main, millions, table
from baselines.nets import LimbTransformer, modumorph


@pytest.fixture(scope="module")
def ft() -> dict:
    return table("ft")


def test_ft_rows_equal_the_paper(ft: dict) -> None:
    paper = {  # paper Table 1, FT: params / FLOPs
        "ModuMorph (oracle)": ("1.73M", "39.86M"),
        "TF (compressed)": ("0.14M", "3.39M"),
        "ModuMorph (compressed)": ("0.15M", "1.78M"),
        "Multi-robot MLP": ("0.23M", "0.46M"),
        "HyperDistill": ("0.12M", "0.25M"),
    }
    assert {name: (millions(c.params), millions(c.flops)) for name, c in ft.items()} == paper


def test_ft_counts_equal_the_reconstruction(ft: dict) -> None:
    exact = {  # docs/networks.md §11.3
        "ModuMorph (oracle)": (1_733_784, 39_856_128),
        "TF (compressed)": (139_522, 3_385_344),
        "ModuMorph (compressed)": (151_064, 1_775_616),
        "Multi-robot MLP": (231_960, 462_848),
        "HyperDistill": (124_440, 247_808),
    }
    assert {name: (c.params, c.flops) for name, c in ft.items()} == exact
    assert round(ft["ModuMorph (oracle)"].flops / ft["HyperDistill"].flops) == 161  # the paper's "160×"


def test_vt_rows() -> None:
    vt = table("vt")
    student, teacher = vt["HyperDistill"], vt["ModuMorph (oracle)"]
    assert (millions(student.params), millions(student.flops)) == ("0.30M", "0.60M")
    assert (student.params, student.flops) == (301_080, 600_320)
    assert millions(teacher.params) == "1.97M" and teacher.params == 1_974_936
    assert abs(teacher.flops - 40.33e6) / 40.33e6 < 5e-4


def test_compressed_modumorph_counts_qk_only_when_asked() -> None:
    net, obs = LimbTransformer(modumorph("ft")), example_observation("ft")
    full, precomputed = count(net, (obs,)), count(net, (obs,), precomputed_attention=True)
    d, length, layers = 128, 12, 5
    assert full.params - precomputed.params == layers * 2 * (d * d + d)
    assert full.flops - precomputed.flops == layers * (2 * 2 * length * d * d + 2 * length * length * d)


def test_cli_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--task", "obstacle"])
    out = capsys.readouterr().out
    assert "ModuMorph (oracle)" in out and "2.02M" in out and "40.43M" in out

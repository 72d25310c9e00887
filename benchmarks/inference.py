"""Inference latency per control step: batch 1, one CPU thread, every architecture of the paper.

Each torch network runs in eval mode under ``torch.inference_mode`` on a real observation of a
robot (from ``env.reset()`` of that robot), already converted to tensors; the exported student runs
in numpy through :class:`unimal_gym.deploy.StudentPolicy` from the **raw** observation dict
(normalisation and feature slicing included). Weights are freshly initialised (latency does not
depend on their values)::

    python benchmarks/inference.py [--task ft] [--robot morphologies/train/xml/unimal-train-000.xml]

Rows: ModuMorph (the teacher), the compressed TF and ModuMorph, the multi-robot MLP, the
HyperDistill hypernetwork regenerating its weights every step (as in training), the MLP it
generates for the robot (torch), and that MLP exported to numpy. Ratios are to HyperDistill's
generated MLP in torch.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from baselines.common.latency import latency, network_step, robot_observation
from baselines.export import export_student
from baselines.flops import table
from baselines.nets import HyperDistill, build_network, hyperdistill, to_torch
from unimal_gym.deploy import StudentPolicy
from unimal_gym.layout import TASKS
from unimal_gym.normalization import ObservationNormalizer

DEFAULT_ROBOT = Path(__file__).resolve().parents[1] / "morphologies" / "train" / "xml" / "unimal-train-000.xml"
REFERENCE = "HyperDistill (generated MLP, torch)"


def measure(task: str, robot: Path) -> dict[str, float]:
    """Seconds per control step for every row of the table."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    raw = robot_observation(task, robot)
    obs = to_torch(raw)  # (1, …); normalisation statistics are the identity here
    nets = {
        "ModuMorph (oracle)": build_network("modumorph", task),
        "TF (compressed)": build_network("tf-compressed", task),
        "ModuMorph (compressed)": build_network("modumorph-compressed", task),
        "Multi-robot MLP": build_network("mlp", task),
    }
    student = HyperDistill(hyperdistill(task)).eval()
    results: dict[str, float] = {}
    with torch.inference_mode():
        for name, net in nets.items():
            net.eval()
            results[name] = latency(network_step(net, raw))
        results["HyperDistill (HN, weights every step)"] = latency(lambda: student(obs))
        results[REFERENCE] = latency(network_step(student, raw))  # the MLP it generates for the robot
    with tempfile.TemporaryDirectory() as tmp:
        identity = ObservationNormalizer.identity()
        path = export_student(student, raw, Path(tmp) / "student.npz", identity, onnx=False)[0]
        policy = StudentPolicy.load(path)
    results["HyperDistill (exported, numpy)"] = latency(lambda: policy(raw))
    return results


def main(argv: list[str] | None = None) -> None:
    """Command line: measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=TASKS, default="ft", help="task (default: ft)")
    parser.add_argument("--robot", type=Path, default=DEFAULT_ROBOT, help="robot XML (default: %(default)s)")
    args = parser.parse_args(argv)
    results = measure(args.task, args.robot)
    flops = table(args.task)
    ref = results[REFERENCE]
    print(f"Batch-1 latency per control step, 1 CPU thread, {args.task.upper()}, robot {args.robot.stem}")
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    print(f"{'architecture':<40} {'µs/step':>9} {'× ' + REFERENCE.split(' (')[0]:>15} {'FLOPs':>8}")
    for name, seconds in results.items():
        key = "HyperDistill" if name.startswith("HyperDistill (gen") or "numpy" in name else name
        f = f"{flops[key].flops / 1e6:.2f}M" if key in flops else "-"
        print(f"{name:<40} {seconds * 1e6:>9.1f} {seconds / ref:>15.2f} {f:>8}")
    teacher, numpy_student = results["ModuMorph (oracle)"], results["HyperDistill (exported, numpy)"]
    print(f"exported student vs ModuMorph: {teacher / numpy_student:.0f}× faster")


if __name__ == "__main__":
    main()

"""Readers for files written before the layer restructure, so that earlier runs resume and load.

Before it, checkpoints named only a ``format`` (``unimal-ppo-1``, ``unimal-distill-1``), configs and
manifests said ``env`` and ``model`` (``hn`` for HN-RL), and observation statistics travelled as
``obs_rms`` (PPO: ``{"proprioceptive": {"mean", "var", "count"}}`` with the clip in the config;
distillation and expert data: ``mean``, ``var``, ``clip``). These functions turn such data into the
current form in memory; nothing on disk is rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from unimal_gym.normalization import DEFAULT_EPSILON

FIELD_NAMES = {"env": "task", "model": "arch"}
ARCH_NAMES = {"hn": "hn-rl"}
PPO_FORMAT_1 = "unimal-ppo-1"
DISTILL_FORMAT_1 = "unimal-distill-1"
EXPERT_DATA_FORMAT_1 = "unimal-expert-data-1"


def rename_fields(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config dict with the old field names (``env``, ``model``) and architecture names (``hn``) renamed."""
    out = {FIELD_NAMES.get(k, k): v for k, v in config.items()}
    if "arch" in out:
        out["arch"] = ARCH_NAMES.get(out["arch"], out["arch"])
    return out


def normalizer_arrays(mean: Any, var: Any, count: float, clip: float) -> dict[str, np.ndarray]:
    """Old statistics as the arrays of :mod:`unimal_gym.normalization`."""
    return {
        "obs_mean": np.asarray(mean, dtype=np.float64),
        "obs_var": np.asarray(var, dtype=np.float64),
        "obs_count": np.array(float(count)),
        "clip_obs": np.array(float(clip)),
        "epsilon": np.array(DEFAULT_EPSILON),
    }


def upgrade_checkpoint(data: dict[str, Any], kinds: Mapping[str, str], formats: Mapping[str, str]) -> dict[str, Any]:
    """A checkpoint dict of an old format in the current form (others are returned unchanged).

    :param kinds: old format → current kind. :param formats: kind → current format.
    """
    old = data.get("format")
    if "kind" in data or old not in kinds:
        return data
    kind = kinds[old]
    config = rename_fields(data.get("config", {}))
    out = {**data, "kind": kind, "format": formats[kind], "config": config}
    try:
        if old == PPO_FORMAT_1:
            rms = data["obs_rms"]["proprioceptive"]
            out.update(task=config["task"], arch=config["arch"], net=config["net"], action_std=config["action_std"])
            out["obs_norm"] = normalizer_arrays(rms["mean"], rms["var"], rms["count"], config["norm_clip"])
        else:
            rms = data["obs_rms"]
            out.update(arch=config["student"], net=config["net"])
            dropout = {"embedding_dropout": config["embedding_dropout"]} if config["student"] == "hyperdistill" else {}
            out["overrides"] = dropout
            out["obs_norm"] = normalizer_arrays(rms["mean"], rms["var"], 0.0, float(rms["clip"]))
    except (KeyError, TypeError):
        return data  # not what the old format wrote: the reader's own checks name the problem
    out.pop("obs_rms", None)
    return out


def upgrade_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """An expert-data manifest of format 1 with the current field names (others are returned unchanged)."""
    if manifest.get("format") != EXPERT_DATA_FORMAT_1:
        return manifest
    out = rename_fields(manifest)
    if isinstance(out.get("teacher"), Mapping):
        out["teacher"] = rename_fields(out["teacher"])
    return out


__all__ = ["rename_fields", "upgrade_checkpoint", "upgrade_manifest"]

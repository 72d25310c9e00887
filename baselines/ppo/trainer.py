"""Multi-robot PPO for the universal teachers (ModuMorph, TF, MLP) and HN-RL (docs/networks.md §7).

``python -m baselines.ppo --task ft --arch modumorph --robots train --preset laptop --out runs/ft``

stable-baselines3 provides the PPO object, the rollout buffer (GAE; time-limit truncations are
bootstrapped with V(terminal observation) through SB3's ``TimeLimit.truncated``), the VecEnv interface
(stepped by :class:`~baselines.common.vec_env.NativeVecEnv`: threads, no pipes) and VecNormalize
(``proprioceptive`` only, return-based reward scaling, both clipped at ±10).
Our networks plug in as :class:`baselines.ppo.policy.UnimalPolicy`. :meth:`UnimalPPO.train` is the
update of docs/networks.md §7 written out, because SB3's differs from the original in four places: SB3 clips
the value loss without the max(), normalises advantages per minibatch, keeps incomplete minibatches,
and stops on a different KL estimator at 1.5 × target. The trainer's loop (:func:`train`) sets the
cosine learning rate with warm-up once per iteration and the robots' sampling weights (uniform, then
∝ 1/EMA episode length) in every env before each rollout.

The run directory (:class:`baselines.common.run_dir.RunDir`)::

    config.json                  the exact PPOConfig of the run
    checkpoints/iter_000100.pt   ppo-checkpoint: policy, optimiser, observation statistics, sampler state
    checkpoints/final.pt         the last iteration's checkpoint (same content)
    progress.csv                 one row per iteration (losses, KL, clip fraction, returns, steps/s)
    robots.csv                   one row per robot and iteration (episodes, mean return and length, weight)
    tb/                          TensorBoard events (``tensorboard``, in the baselines extra)
"""

from __future__ import annotations

import io
import math
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import DictRolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import explained_variance
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecEnvWrapper, VecNormalize

from unimal_gym.envs.errors import InvalidStateError
from unimal_gym.normalization import DEFAULT_EPSILON, NormalizerError, ObservationNormalizer

from ..common import interrupt
from ..common.config import ConfigError, check_device
from ..common.envs import make_env, robot_files
from ..common.files import (
    PPO_CHECKPOINT,
    CheckpointError,
    arrays,
    atomic_write,
    from_payload,
    read_artifact,
    tensors,
    to_payload,
)
from ..common.lock import holds_lock
from ..common.progress import Progress, print_line
from ..common.run_dir import RunDir, RunLayout
from ..common.threads import torch_threads
from ..common.vec_env import NativeVecEnv
from .config import PPOConfig
from .policy import UnimalPolicy

NORM_KEY = "proprioceptive"  # docs/environment.md §3.7: only this key is normalised
EMA_WARMUP_EPISODES = 10  # docs/networks.md §7: ℓ_r starts as the mean of a robot's first 10 episodes
DEFAULT_EPISODE_LENGTH = 1000.0  # docs/networks.md §7: ℓ_r = 1000 until known (uniform sampling)
PROGRESS_FIELDS = (
    "iteration",
    "timesteps",
    "wall_time",
    "steps_per_s",
    "learning_rate",
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clip_fraction",
    "updates",
    "kl_stopped",
    "explained_variance",
    "episodes",
    "return_mean",
    "length_mean",
)
ROBOT_FIELDS = ("iteration", "robot", "episodes", "return_mean", "length_mean", "weight")
LAYOUT = RunLayout(
    kind=PPO_CHECKPOINT,
    prefix="iter",
    width=6,
    step="iteration",
    logs={"progress.csv": PROGRESS_FIELDS, "robots.csv": ROBOT_FIELDS},
    tensorboard_step="timesteps",
)
"""A PPO run directory: ``iter_NNNNNN.pt`` checkpoints, progress and per-robot CSV logs, TensorBoard."""


def run_dir(root: str | os.PathLike[str]) -> RunDir:
    """The PPO run directory at ``root``."""
    return RunDir(root, LAYOUT)


def _worker_env(task: str, robots: list[Path]) -> gym.Env:
    """The training env, made inside an env subprocess that leaves Ctrl-C and SIGTERM to the main process."""
    interrupt.ignore_in_worker()
    return make_env(task, robots)


class Float32Rewards(VecEnvWrapper):
    """Rewards as float32, as ``DummyVecEnv`` and :class:`NativeVecEnv` return them (``SubprocVecEnv`` stacks
    Python floats into float64; VecNormalize's return accumulator would then differ in the last bits)."""

    def reset(self) -> Any:
        return self.venv.reset()

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        return obs, rewards.astype(np.float32), dones, infos


def make_vec_env(config: PPOConfig, robots: list[Path]) -> VecNormalize:
    """``n_envs`` parallel envs wrapped in the training VecNormalize (docs/networks.md §7, docs/environment.md §3.7).

    ``vec_env`` picks how they run: ``native`` (:class:`NativeVecEnv`, threads), ``subproc`` or ``dummy``;
    each steps the same envs with the same seeds and returns the same arrays.
    """
    if config.vec_env == "native":
        venv: VecEnv = NativeVecEnv(config.task, robots, config.n_envs)
    elif config.vec_env == "subproc" and config.n_envs > 1:
        venv = Float32Rewards(SubprocVecEnv([partial(_worker_env, config.task, robots)] * config.n_envs))
    else:
        venv = DummyVecEnv([partial(make_env, config.task, robots)] * config.n_envs)
    return VecNormalize(
        venv,
        norm_obs=True,
        norm_reward=True,
        norm_obs_keys=[NORM_KEY],
        clip_obs=config.norm_clip,
        clip_reward=config.norm_clip,
        gamma=config.gamma,
        epsilon=DEFAULT_EPSILON,
    )


class RobotSampler:
    """Per-robot sampling weights: uniform, or balanced ∝ 1000 / ℓ_r (docs/networks.md §7).

    ℓ_r is robot r's episode length: the mean of its first 10 episodes, then an EMA with rate
    ``ema_alpha``; 1000 while unknown and during the first ``uniform_iters`` iterations.

    :param names: robot names in the envs' order.
    :param strategy: ``"balanced"`` or ``"uniform"``.
    :param uniform_iters: iterations of uniform sampling first.
    :param ema_alpha: EMA rate.
    """

    def __init__(self, names: list[str], strategy: str, uniform_iters: int, ema_alpha: float) -> None:
        self.names, self.strategy = list(names), strategy
        self.uniform_iters, self.ema_alpha = uniform_iters, ema_alpha
        self.first: dict[str, list[float]] = defaultdict(list)
        self.ema: dict[str, float] = {}

    def record(self, name: str, length: float) -> None:
        """Account one finished episode of robot ``name``."""
        if name in self.ema:
            self.ema[name] = (1 - self.ema_alpha) * self.ema[name] + self.ema_alpha * length
            return
        self.first[name].append(float(length))
        if len(self.first[name]) == EMA_WARMUP_EPISODES:
            self.ema[name] = float(np.mean(self.first.pop(name)))

    def weights(self, iteration: int) -> np.ndarray:
        """:return: (R,) probabilities of each robot for the episodes of ``iteration``."""
        if self.strategy == "uniform" or iteration < self.uniform_iters:
            lengths = np.full(len(self.names), DEFAULT_EPISODE_LENGTH)
        else:
            lengths = np.array([self.ema.get(n, DEFAULT_EPISODE_LENGTH) for n in self.names])
        w = DEFAULT_EPISODE_LENGTH / np.maximum(lengths, 1.0)
        return w / w.sum()

    def state_dict(self) -> dict[str, Any]:
        """Plain data for the checkpoint."""
        return {"first": dict(self.first), "ema": dict(self.ema)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.first = defaultdict(list, {k: list(v) for k, v in state["first"].items()})
        self.ema = dict(state["ema"])


class EpisodeRecorder(BaseCallback):
    """Collects (robot, return, length) of every episode that ends during a rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.episodes: list[tuple[str, float, int]] = []

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            ep = info.get("episode")
            if ep is not None:
                self.episodes.append((str(ep["name"]), float(ep["r"]), int(ep["l"])))
        return True

    def drain(self) -> list[tuple[str, float, int]]:
        """:return: the episodes since the last call."""
        out, self.episodes = self.episodes, []
        return out


# ---------------------------------------------------------------------------------------------- PPO
def learning_rate(iteration: int, config: PPOConfig) -> float:
    """docs/networks.md §7: lr(t) = min + (base − min)·½(1 + cos(π t / T)) (or linear / constant), times
    0.1·(1 − t/5) + t/5 during the 5 warm-up iterations."""
    t, total = iteration, config.iterations
    if config.lr_schedule == "cos":
        decay = 0.5 * (1 + math.cos(math.pi * t / total))
    elif config.lr_schedule == "lin":
        decay = 1 - t / total
    else:
        decay = 1.0
    lr = config.min_lr + (config.learning_rate - config.min_lr) * decay
    if t < config.warmup_iters:
        alpha = t / config.warmup_iters
        lr *= config.warmup_factor * (1 - alpha) + alpha
    return lr


class Float32RolloutBuffer(DictRolloutBuffer):
    """SB3's dict rollout buffer keeping float64 observation keys as float32, the networks' dtype: each
    value is rounded once when its step is stored instead of in every minibatch (the same float32
    values; half the memory and copying)."""

    def reset(self) -> None:
        super().reset()
        for key, array in self.observations.items():
            if array.dtype == np.float64:
                self.observations[key] = np.zeros(array.shape, dtype=np.float32)


class UnimalPPO(PPO):
    """SB3's PPO with the update of docs/networks.md §7 (see the module docstring for why it is overridden)."""

    kl_limit: float = math.inf
    clip_value: bool = True
    rollout_threads: int = 0

    def collect_rollouts(self, *args: Any, **kwargs: Any) -> bool:
        """SB3's rollout, in inference mode and with each robot's context-only network parts computed
        once per rollout (the weights do not change during it); the same actions, values and buffer."""
        with torch.inference_mode(), self.policy.ac.frozen_conditioning(), torch_threads(self.rollout_threads):
            return super().collect_rollouts(*args, **kwargs)

    def train(self) -> dict[str, float]:
        """One iteration's update on the filled rollout buffer. :return: losses and diagnostics."""
        policy, buffer = self.policy, self.rollout_buffer
        policy.set_training_mode(True)
        eps = float(self.clip_range(1.0))  # type: ignore[operator]
        # Advantages A = R − V_old, normalised over the whole buffer.
        adv = buffer.advantages
        buffer.advantages = (adv - adv.mean()) / (adv.std() + 1e-5)
        explained = float(explained_variance(buffer.values.flatten(), buffer.returns.flatten()))

        stats: dict[str, list[float]] = defaultdict(list)
        kl_stopped = False
        for _ in range(self.n_epochs):
            for batch in buffer.get(self.batch_size):
                if len(batch.advantages) < self.batch_size:  # drop_last
                    continue
                values, log_prob, entropy = policy.evaluate_actions(batch.observations, batch.actions)
                values = values.flatten()
                # KL early stop, measured before this minibatch's step; the minibatch is not applied.
                approx_kl = (batch.old_log_prob - log_prob).mean()
                if approx_kl.item() > self.kl_limit:
                    kl_stopped = True
                    break
                ratio = torch.exp(log_prob - batch.old_log_prob)
                a = batch.advantages
                policy_loss = -torch.min(ratio * a, torch.clamp(ratio, 1 - eps, 1 + eps) * a).mean()
                r = batch.returns
                if self.clip_value:
                    v_clip = batch.old_values + torch.clamp(values - batch.old_values, -eps, eps)
                    value_loss = 0.5 * torch.max((values - r) ** 2, (v_clip - r) ** 2).mean()
                else:
                    value_loss = 0.5 * ((values - r) ** 2).mean()
                loss = self.vf_coef * value_loss + policy_loss - self.ent_coef * entropy.mean()

                policy.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), self.max_grad_norm)
                policy.optimizer.step()
                self._n_updates += 1

                stats["policy_loss"].append(policy_loss.item())
                stats["value_loss"].append(value_loss.item())
                stats["entropy"].append(entropy.mean().item())
                stats["approx_kl"].append(approx_kl.item())
                stats["clip_fraction"].append((torch.abs(ratio - 1) > eps).float().mean().item())
            if kl_stopped:
                break
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"):
            out.setdefault(key, float("nan"))
        out.update(updates=len(stats["policy_loss"]), kl_stopped=int(kl_stopped), explained_variance=explained)
        return out


def build_model(config: PPOConfig, venv: VecEnv) -> UnimalPPO:
    """The PPO object with our policy, seeded (network init and env seeds seed + i)."""
    model = UnimalPPO(
        UnimalPolicy,
        venv,
        learning_rate=config.learning_rate,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.entropy_coef,
        vf_coef=config.value_coef,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        device=config.device,
        policy_kwargs={"arch": config.arch, "task": config.task, "net": config.net, "action_std": config.action_std},
        rollout_buffer_class=Float32RolloutBuffer,
        verbose=0,
    )
    model.kl_limit = config.kl_limit
    model.clip_value = config.clip_value
    model.rollout_threads = config.rollout_threads
    # A logger with no outputs: SB3's configure() would make an empty tmp/SB3-<time> folder per run.
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------------------- checkpoints
def _rms_state(rms: Any) -> dict[str, Any]:
    return {"mean": torch.as_tensor(rms.mean), "var": torch.as_tensor(rms.var), "count": float(rms.count)}


def _load_rms(rms: Any, mean: np.ndarray, var: np.ndarray, count: float, what: str) -> None:
    if np.shape(rms.mean) != np.shape(mean):
        raise CheckpointError(f"{what} statistics have shape {np.shape(mean)}; this env has {np.shape(rms.mean)}")
    rms.mean, rms.var, rms.count = np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64), count


def observation_normalizer(venv: VecNormalize, config: PPOConfig) -> ObservationNormalizer:
    """The training VecNormalize's ``proprioceptive`` statistics as a (frozen) normaliser."""
    rms = venv.obs_rms[NORM_KEY]
    return ObservationNormalizer(rms.mean, rms.var, rms.count, config.norm_clip, DEFAULT_EPSILON)


def checkpoint_state(model: UnimalPPO, venv: VecNormalize, sampler: RobotSampler, config: PPOConfig, it: int) -> dict:
    """Everything needed to act (the network it names, its weights and observation statistics) and to
    resume (optimiser, return statistics, sampler, counters; ``resume``: :func:`run_state`)."""
    return {
        "config": config.to_dict(),
        "task": config.task,
        "arch": config.arch,
        "net": config.net,
        "action_std": config.action_std,
        "iteration": it,
        "timesteps": int(model.num_timesteps),
        "policy": model.policy.state_dict(),
        "optimizer": model.policy.optimizer.state_dict(),
        "obs_norm": tensors(observation_normalizer(venv, config).to_arrays()),
        "ret_rms": _rms_state(venv.ret_rms),
        "sampler": sampler.state_dict(),
        "robots": list(sampler.names),
        **({"resume": resume} if (resume := run_state(model, venv)) is not None else {}),
    }


def load_policy_state(policy: torch.nn.Module, state: dict[str, Any], source: str) -> None:
    """Load a checkpoint's weights. :raises CheckpointError: another architecture or size."""
    try:
        policy.load_state_dict(state["policy"])
    except (RuntimeError, KeyError) as exc:
        head = " ".join(str(exc).strip().splitlines()[0:3])
        raise CheckpointError(f"{source} does not fit this network (another model or size): {head}") from None


def restore_statistics(venv: VecNormalize, state: dict[str, Any], source: str) -> None:
    """A checkpoint's observation and return statistics into the VecNormalize."""
    try:
        norm = ObservationNormalizer.from_arrays(arrays(state["obs_norm"]), source)
    except NormalizerError as exc:
        raise CheckpointError(str(exc)) from None
    _load_rms(venv.obs_rms[NORM_KEY], norm.mean, norm.var, norm.count, f"{source}: '{NORM_KEY}'")
    ret = state["ret_rms"]
    _load_rms(venv.ret_rms, ret["mean"].numpy(), ret["var"].numpy(), ret["count"], f"{source}: return")


def restore(model: UnimalPPO, venv: VecNormalize, sampler: RobotSampler, state: dict[str, Any], source: str) -> None:
    """Resume: weights, optimiser, VecNormalize statistics, sampler and step counter."""
    load_policy_state(model.policy, state, source)
    model.policy.optimizer.load_state_dict(state["optimizer"])
    restore_statistics(venv, state, source)
    sampler.load_state_dict(state["sampler"])
    model.num_timesteps = int(state["timesteps"])


def run_state(model: UnimalPPO, venv: VecNormalize) -> dict[str, Any] | None:
    """What makes a resumed run the uninterrupted one, bit for bit (with the native vector env; None with
    others): every env's state mid-episode (:meth:`NativeVecEnv.snapshot`), VecNormalize's running discounted
    returns, SB3's last observations and episode starts, the update counter, and the Python, numpy and torch
    random generators' states."""
    envs = venv.venv
    if not isinstance(envs, NativeVecEnv):
        return None
    generators: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(legacy=False),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        generators["cuda"] = torch.cuda.get_rng_state_all()
    return to_payload(
        {
            "envs": envs.snapshot(),
            "returns": venv.returns,
            "last_obs": model._last_obs,
            "last_episode_starts": model._last_episode_starts,
            "n_updates": int(model._n_updates),
            "generators": generators,
        }
    )


def restore_run_state(model: UnimalPPO, venv: VecNormalize, state: dict[str, Any], source: str) -> bool:
    """Put back :func:`run_state` (after SB3's setup has reset the envs).

    :return: whether it was there to put back (a checkpoint of the native vector env, written since this
        existed, resumed on the native vector env).
    :raises CheckpointError: a state that does not fit these envs.
    """
    saved, envs = state.get("resume"), venv.venv
    if saved is None or not isinstance(envs, NativeVecEnv):
        return False
    saved = from_payload(saved)
    try:
        envs.restore(saved["envs"])
        returns = np.asarray(saved["returns"], dtype=venv.returns.dtype)
        if returns.shape != venv.returns.shape:
            raise InvalidStateError(f"returns of {returns.shape[0]} envs; this run has {venv.returns.shape[0]}")
        venv.returns = returns
        model._last_obs = {k: np.array(v) for k, v in saved["last_obs"].items()}
        model._last_episode_starts = np.array(saved["last_episode_starts"])
        model._n_updates = int(saved["n_updates"])
        generators = saved["generators"]
        random.setstate(generators["python"])
        np.random.set_state(generators["numpy"])
        torch.set_rng_state(torch.as_tensor(generators["torch"]))
        if "cuda" in generators and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([torch.as_tensor(g) for g in generators["cuda"]])
    except (InvalidStateError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: its run state does not fit this run ({exc})") from None
    return True


# ---------------------------------------------------------------------------------------------- the loop
def robot_rows(it: int, episodes: list[tuple[str, float, int]], names: list[str], weights: np.ndarray) -> list[dict]:
    """Per-robot log rows of one iteration (every robot, also those without a finished episode)."""
    per: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for name, ret, length in episodes:
        per[name].append((ret, length))
    rows = []
    for name, w in zip(names, weights, strict=True):
        eps = per.get(name, [])
        rows.append(
            {
                "iteration": it,
                "robot": name,
                "episodes": len(eps),
                "return_mean": float(np.mean([e[0] for e in eps])) if eps else "",
                "length_mean": float(np.mean([e[1] for e in eps])) if eps else "",
                "weight": float(w),
            }
        )
    return rows


CHECKPOINT_MINUTES = 10.0
"""Default wall-clock interval between checkpoints (on top of ``checkpoint_every`` iterations)."""
KEEP_CHECKPOINTS = 3
"""Default number of step checkpoints kept (older ones are pruned; ``final.pt`` always stays)."""


@holds_lock("out", "PPO run")
def train(
    config: PPOConfig,
    out: str | os.PathLike[str],
    resume: bool = False,
    quiet: bool = False,
    checkpoint_minutes: float = CHECKPOINT_MINUTES,
    keep_checkpoints: int = KEEP_CHECKPOINTS,
    progress: Callable[[str], None] = print_line,
) -> Path:
    """Run (or resume) PPO; every input is checked before anything is written or started.

    A checkpoint is written every ``config.checkpoint_every`` iterations, at least every ``checkpoint_minutes``
    of wall-clock time, at the end, and when Ctrl-C or SIGTERM asks the run to stop (after the iteration in
    hand; it then raises :class:`~baselines.common.interrupt.Interrupted`). None of this changes the result.

    :param config: the run's configuration.
    :param out: run directory.
    :param resume: continue from the latest checkpoint in ``out``.
    :param quiet: no progress lines.
    :param progress: where the progress lines go (a caller's logger; unless ``quiet``).
    :param checkpoint_minutes: wall-clock minutes between checkpoints (> 0).
    :param keep_checkpoints: step checkpoints kept, the newest (0 = all).
    :return: the final checkpoint's path.
    :raises ConfigError: bad configuration or robot set.
    :raises CheckpointError: run directory or checkpoint problems.
    """
    if not (checkpoint_minutes > 0 and math.isfinite(checkpoint_minutes)):
        raise ConfigError(f"checkpoint_minutes={checkpoint_minutes} is not allowed: 0 < checkpoint_minutes (finite)")
    if keep_checkpoints < 0:
        raise ConfigError(f"keep_checkpoints={keep_checkpoints} is not allowed: 0 ≤ keep_checkpoints (0 = all)")
    config.validate()
    check_device(config.device)
    files = robot_files(config.robots, config.robot_limit)
    run = run_dir(out)
    latest = run.start(config, resume)
    state = read_artifact(latest, PPO_CHECKPOINT) if latest is not None else None
    # the same run: vec_env may differ (how, not what); fields added since the checkpoint take their defaults
    if state is not None and PPOConfig.from_dict(state["config"]).identity() != config.identity():
        raise CheckpointError(f"checkpoint {latest} was written by a different config than {run.config_path}")
    start = state["iteration"] if state else 0
    if state is not None and state["robots"] != [f.stem for f in files]:
        raise CheckpointError(f"{out}: the robot set changed since the checkpoint")
    say = None if quiet else progress
    if resume:
        run.truncate_logs(start)  # rows an interrupted run wrote after its last checkpoint
        if say:
            say(f"resuming from iteration {start} ({latest})" if latest else f"{out}: no checkpoint yet, from 0")

    seed_everything(config.seed + start)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    venv = make_vec_env(config, files)
    try:
        model = build_model(config, venv)
        names = venv.get_attr("robot_names", [0])[0]
        sampler = RobotSampler(names, config.sampling, config.uniform_iters, config.ema_alpha)
        exact = state is not None and "resume" in state and isinstance(venv.venv, NativeVecEnv)
        if state is not None and not exact:
            venv.seed(config.seed + 7919 * start)  # fresh, distinct episodes after a resume
        recorder = EpisodeRecorder()
        _, callback = model._setup_learn(config.total_timesteps, recorder, reset_num_timesteps=state is None)
        if state is not None:  # after SB3's setup, which resets the envs (and VecNormalize's statistics see it)
            restore(model, venv, sampler, state, str(latest))
            if not restore_run_state(model, venv, state, str(latest)):  # the reset's observations, normalised
                model._last_obs = venv.normalize_obs(venv.get_original_obs())  # with the restored statistics
            if say:
                say(
                    "continuing exactly where it stopped"
                    if exact
                    else "continuing with fresh episodes (no env states in this checkpoint for this vec_env: "
                    "not a bitwise continuation)"
                )
        saving = (checkpoint_minutes * 60.0, keep_checkpoints)
        path = _loop(config, run, model, venv, sampler, recorder, callback, start, say, saving)
    finally:
        venv.close()
        run.close()
    return path


SB3_TAGS = {
    "return_mean": "rollout/ep_rew_mean",
    "length_mean": "rollout/ep_len_mean",
    "episodes": "rollout/episodes",
    "steps_per_s": "time/fps",
    "wall_time": "time/time_elapsed",
    "learning_rate": "train/learning_rate",
    "policy_loss": "train/policy_gradient_loss",
    "value_loss": "train/value_loss",
    "approx_kl": "train/approx_kl",
    "clip_fraction": "train/clip_fraction",
    "explained_variance": "train/explained_variance",
    "updates": "train/n_updates",
    "kl_stopped": "train/kl_stopped",
}
"""TensorBoard tag of each ``progress.csv`` column, in stable-baselines3's names (SB3 logs ``n_updates`` as a
running total; here it is the iteration's minibatch updates). ``entropy`` is logged as SB3's
``train/entropy_loss`` = −entropy."""


def tensorboard_scalars(progress: dict[str, Any]) -> dict[str, float]:
    """One iteration's ``progress.csv`` row as TensorBoard scalars in SB3's tag names (numbers only)."""
    out = {tag: progress[key] for key, tag in SB3_TAGS.items() if isinstance(progress.get(key), (int, float))}
    if isinstance(progress.get("entropy"), (int, float)):
        out["train/entropy_loss"] = -progress["entropy"]
    return out


# ---------------------------------------------------------------------------------------------- SB3 format
SB3_FOLDER = "sb3"
MODEL = "model.zip"
STATISTICS = "vecnormalize.pkl"


def save_sb3(model: BaseAlgorithm, venv: VecNormalize, out: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``model.zip`` and ``vecnormalize.pkl`` (evaluation mode) of a PPO model and its VecNormalize.

    :return: the two paths.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    model.save(buffer, exclude=["rollout_buffer"])
    atomic_write(out / MODEL, lambda tmp: tmp.write_bytes(buffer.getvalue()))
    training, norm_reward = venv.training, venv.norm_reward
    venv.training, venv.norm_reward = False, False
    try:
        atomic_write(out / STATISTICS, lambda tmp: venv.save(str(tmp)))
    finally:
        venv.training, venv.norm_reward = training, norm_reward
    return out / MODEL, out / STATISTICS


def _loop(
    config: PPOConfig,
    run: RunDir,
    model: UnimalPPO,
    venv: VecNormalize,
    sampler: RobotSampler,
    recorder: EpisodeRecorder,
    callback: BaseCallback,
    start: int,
    say: Callable[[str], None] | None,
    saving: tuple[float, int],
) -> Path:
    path = run.checkpoints / "final.pt"
    t_run = t_saved = time.perf_counter()
    save_seconds, keep = saving
    bar = Progress(config.iterations, f"PPO {config.arch} {config.task}", "it", start, say)
    for it in range(start, config.iterations):
        t0 = time.perf_counter()
        weights = sampler.weights(it)
        venv.env_method("set_robot_weights", weights.tolist())  # reaches every subprocess; next reset on
        lr = learning_rate(it, config)
        for group in model.policy.optimizer.param_groups:
            group["lr"] = lr
        model.collect_rollouts(venv, callback, model.rollout_buffer, config.n_steps)
        stats = model.train()
        seconds = time.perf_counter() - t0

        episodes = recorder.drain()
        for name, _, length in episodes:
            sampler.record(name, length)
        progress = {
            "iteration": it + 1,
            "timesteps": model.num_timesteps,
            "wall_time": round(time.perf_counter() - t_run, 3),
            "steps_per_s": config.steps_per_iteration / seconds,
            "learning_rate": lr,
            **stats,
            "episodes": len(episodes),
            "return_mean": float(np.mean([e[1] for e in episodes])) if episodes else "",
            "length_mean": float(np.mean([e[2] for e in episodes])) if episodes else "",
        }
        robots = robot_rows(it + 1, episodes, sampler.names, weights)
        run.log("progress.csv", [progress])
        run.log("robots.csv", robots)
        scalars = tensorboard_scalars(progress)
        scalars.update({f"rollout/ep_rew_mean/{r['robot']}": r["return_mean"] for r in robots if r["episodes"]})
        run.log_scalars({k: v for k, v in scalars.items() if isinstance(v, (int, float))}, model.num_timesteps)
        done = it + 1 == config.iterations
        due = (it + 1) % config.checkpoint_every == 0 or time.perf_counter() - t_saved >= save_seconds
        if due or done or interrupt.requested():
            state = checkpoint_state(model, venv, sampler, config, it + 1)
            if done:  # the same teacher in stable-baselines3's format (PPO.load, RL Zoo), before the checkpoint
                save_sb3(model, venv, run.root / SB3_FOLDER)  # that says the run is complete
            path = run.save_checkpoint(state, it + 1, final=done, keep=keep)
            t_saved = time.perf_counter()
            if not done:
                interrupt.check(f"checkpoint {path} (iteration {it + 1} of {config.iterations})")
        ret = f"{progress['return_mean']:.1f}" if episodes else "-"
        bar.advance(1, f"return {ret}")
        if (it + 1) % config.log_every == 0 or done or it == start:
            eta = (config.iterations - it - 1) * seconds
            bar.write(
                f"[{it + 1}/{config.iterations}] steps {model.num_timesteps:,} | {progress['steps_per_s']:.0f} steps/s"
                f" | return {ret} | kl {stats['approx_kl']:.4f} | clip {stats['clip_fraction']:.3f}"
                f" | updates {stats['updates']} | eta {eta / 60:.1f} min"
            )
    bar.close()
    return path

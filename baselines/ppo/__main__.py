"""``python -m baselines.ppo --out RUN [--preset laptop] [--field-name VALUE ...] [--resume]``"""

from __future__ import annotations

import sys

from unimal_gym.arguments import ArgumentParser

from ..common.config import add_config_arguments, config_from_args, run_cli
from ..common.interrupt import resume_command
from . import trainer
from .config import PRESETS, PPOConfig


def main(argv: list[str] | None = None) -> int:
    """Command line: see ``python -m baselines.ppo --help``."""
    parser = ArgumentParser(prog="python -m baselines.ppo", description=trainer.__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="run directory (config, checkpoints, logs)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=trainer.CHECKPOINT_MINUTES,
        help="also write a checkpoint after this many minutes of wall-clock time (default %(default)s)",
    )
    parser.add_argument(
        "--keep-checkpoints",
        type=int,
        default=trainer.KEEP_CHECKPOINTS,
        help="keep the newest N step checkpoints, 0 = all; final.pt always stays (default %(default)s)",
    )
    add_config_arguments(parser, PPOConfig, PRESETS)
    args = parser.parse_args(argv)

    def body() -> int:
        if args.resume and args.preset is None:
            base = trainer.run_dir(args.out).read_config(PPOConfig)
            config = config_from_args(args, PPOConfig, PRESETS, base=base)
        else:
            config = config_from_args(args, PPOConfig, PRESETS)
        path = trainer.train(config, args.out, args.resume, args.quiet, args.checkpoint_minutes, args.keep_checkpoints)
        print(f"final checkpoint: {path}")
        return 0

    return run_cli(body, resume=resume_command("python -m baselines.ppo", argv, "--resume"))


if __name__ == "__main__":
    sys.exit(main())

"""RL Zoo (``rl_zoo3``) configuration for the three tasks: ``ppo.yml`` (:data:`YAML`), the paper's ModuMorph
teacher network with the paper's PPO settings (docs/networks.md §7)::

    python -m rl_zoo3.train --algo ppo --env Unimal-FT-v0 --gym-packages unimal_gym \\
        --conf-file "$(python -c 'import baselines.zoo as z; print(z.YAML)')"

RL Zoo trains the network with stable-baselines3's own PPO update; ``python -m baselines.ppo`` adds the
paper's KL early stop, value clipping, cosine learning rate with warm-up and balanced robot sampling, so the
two are not the same algorithm. Both read the observation keys the networks use (``FilterObservation``)
and normalise ``proprioceptive`` with ``VecNormalize`` (clip 10). ``--env-kwargs robots:"'hyperdistill/train'"``
picks robots (default: the bundled ``train`` set).
"""

from pathlib import Path

YAML = Path(__file__).with_name("ppo.yml")
"""The ``ppo.yml`` for RL Zoo's ``--conf-file``."""

"""PyTorch baselines for universal morphology control (teacher, HyperDistill student, ...).

Empty for now: the networks, PPO and distillation arrive with later issues.
"""

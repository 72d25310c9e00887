"""The lower layer every stage stands on and no stage owns.

=================  ===========================================================================
module             what it holds
=================  ===========================================================================
``config``         typed run configurations, presets, command lines made from them, exit code 2
``files``          atomic writes, CSV logs, checksums, torch artifacts that name their ``kind``
``run_dir``        :class:`RunDir`: config, checkpoints, resume and logs of a PPO or distillation run
``envs``           robot sets → XML files, env factories, worker pools that load an agent once
``agents``         :func:`load_agent`: any artifact (teacher, student, exported student) as an agent
``rollouts``       the evaluation harness: episodes of one robot, per-set summaries
``expert_data``    the expert-data folder ``collect`` writes and ``distill`` reads
``latency``        per-step inference latency (batch 1, one thread)
``stats``          paired statistics over robots: the teacher gate, students against the teacher
``vec_env``        the native vector env as a stable-baselines3 ``VecEnv``
``executor``       where work runs: local processes or a Ray cluster (``--executor ray``)
``progress``       progress of a long job: a bar on a terminal, a line per step in a log
``interrupt``      Ctrl-C / SIGTERM: save the step in hand, say how to resume
``lock``           one writer per run folder
``threads``        torch's thread count for a block of work
``plotting``       matplotlib's pyplot when installed, on the file-only backend
``legacy``         readers for files written before the layer restructure
=================  ===========================================================================

The machine a measurement was made on (CPU, cores, versions) is :mod:`unimal_gym.machine`: the torch-free
environment benchmarks print it too.
"""

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
=================  ===========================================================================
"""

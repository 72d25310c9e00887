"""The end-to-end HyperDistill pipeline (``python -m baselines.hyperdistill``); see :mod:`.pipeline`."""

from .pipeline import PipelineConfig, pipeline_preset, run_pipeline

__all__ = ["PipelineConfig", "pipeline_preset", "run_pipeline"]

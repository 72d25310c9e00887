"""The end-to-end HyperDistill pipeline (``python -m baselines.hyperdistill``); see :mod:`.pipeline`; grids of
pipelines: :mod:`.grid`."""

from .grid import GRIDS, grid_configs, run_grid
from .pipeline import PipelineConfig, pipeline_preset, run_pipeline

__all__ = ["GRIDS", "PipelineConfig", "grid_configs", "pipeline_preset", "run_grid", "run_pipeline"]

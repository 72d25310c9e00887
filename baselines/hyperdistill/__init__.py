"""The end-to-end HyperDistill pipeline (``python -m baselines.hyperdistill``): its configuration and presets
(:mod:`.config`), its stages (:mod:`.pipeline`), its report (:mod:`.report`), grids of pipelines (:mod:`.grid`),
tables across teacher seeds (:mod:`.seeds`) and a run's shareable files (:mod:`.publish`)."""

from .config import PipelineConfig, pipeline_preset
from .grid import GRIDS, grid_configs, run_grid
from .pipeline import run_pipeline

__all__ = ["GRIDS", "PipelineConfig", "grid_configs", "pipeline_preset", "run_grid", "run_pipeline"]

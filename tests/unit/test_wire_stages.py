"""The wire schema's stage and status values are the pipeline's, in the pipeline's order."""

from __future__ import annotations

from typing import get_args

from facedubd.api.schemas import JobStage, JobStatus
from facedubd.pipeline.types import STAGES


def test_job_stage_literal_is_the_pipelines_stage_list() -> None:
    assert get_args(JobStage) == STAGES


def test_job_statuses_are_the_specs_four() -> None:
    assert get_args(JobStatus) == ("queued", "processing", "completed", "failed")

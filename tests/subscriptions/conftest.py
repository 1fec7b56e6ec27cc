"""The pipeline with a fake Rasa, as the safety tests use it."""

from tests.safety.test_pipeline_emergency import fake_rasa, pipeline, telegram  # noqa: F401

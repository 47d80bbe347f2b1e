import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


import pytest


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (starting one costs seconds and ~600 MB)."""
    import ray

    from dualchecker.training.actor import ensure_ray

    started = not ray.is_initialized()
    ensure_ray(num_cpus=2)
    yield
    if started:
        ray.shutdown()

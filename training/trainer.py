"""A compact fine-tuning loop for the student; it never calls a teacher.

``fit_batch`` is the online update used inside the distillation loop (new batch plus replay,
LR that never collapses); ``fit`` is the offline fine-tune of the final student.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field

from .config import StudentConfig
from .data import StudentExample, bio_tag_names
from .encoding import Encoded, collate, encode_examples, encode_texts, shuffled_batches
from .errors import StudentError
from .loss import weighted_loss
from .modeling import load_model, load_tokenizer, quiet_transformers, resolve_device
from .prediction import StudentPrediction, decode_classification, decode_spans
from .replay import ReplayBuffer
from .schedule import make_optimizer, offline_schedule, online_schedule

logger = logging.getLogger(__name__)

CONFIG_FILE = "student_config.json"
REPLAY_FILE = "replay.jsonl"
STATE_FILE = "online_state.pt"

EpochHook = Callable[[int, int, float], None]
"""Told after each epoch: (epochs done, epochs in all, the epoch's mean loss)."""


class FitReport(BaseModel):
    """What one training call did; ``loss`` is the mean loss over its last epoch."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    loss: float | None
    """Mean loss over the last epoch; None when nothing was trained."""
    epoch_losses: list[float] = Field(default_factory=list)
    steps: int
    examples: int
    """Distinct examples trained on (new plus replayed)."""
    replayed: int = 0
    """Earlier examples mixed in (online only)."""
    skipped: int = 0
    """Examples without a usable label, left out."""
    seconds: float
    samples_per_s: float
    """Example passes (examples x epochs) per second."""
    learning_rate: float
    """LR after the last step."""


class StudentTrainer:
    """Owns one student model, its tokenizer, the online optimiser state and the replay buffer."""

    def __init__(self, config: StudentConfig) -> None:
        self.config = config
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.device = resolve_device(config.device)
        self.tag_names = bio_tag_names(config.span_types) if config.task == "spans" else []
        self.tag2id = {t: i for i, t in enumerate(self.tag_names)}
        torch.manual_seed(config.seed)
        self.tokenizer = load_tokenizer(config.model)
        self.model = load_model(config, self.tag_names).to(self.device)
        self.replay = ReplayBuffer(seed=config.seed)
        self._shuffle = torch.Generator().manual_seed(config.seed)
        self._online: tuple[torch.optim.Optimizer, object] | None = None

    def fit_batch(self, examples: Sequence[StudentExample]) -> FitReport:
        """Online step: train on the new examples plus up to ``config.replay`` earlier ones.

        The optimiser and LR schedule persist across calls (warmup once, then constant), and
        the new examples join the replay buffer afterwards.
        """
        usable = self._usable(examples)
        if not usable:  # replaying old data alone would only overfit it
            logger.info("no usable examples in this batch of %d; nothing trained", len(examples))
            return FitReport(
                loss=None,
                steps=0,
                examples=0,
                skipped=len(examples),
                seconds=0.0,
                samples_per_s=0.0,
                learning_rate=self.learning_rate,
            )
        replayed = self.replay.sample(self.config.replay)
        optimizer, scheduler = self._online_state()
        report = self._train(usable + replayed, self.config.epochs_per_batch, optimizer, scheduler)
        self.replay.add(usable)
        return report.model_copy(
            update={"replayed": len(replayed), "skipped": len(examples) - len(usable)}
        )

    def remember(self, examples: Sequence[StudentExample]) -> None:
        """Put examples in the replay buffer without training on them now: e.g. the human pool,
        so every online step replays human labels beside the teacher's."""
        self.replay.add(self._usable(examples))

    def fit(
        self,
        examples: Sequence[StudentExample],
        epochs: int | None = None,
        on_epoch: EpochHook | None = None,
    ) -> FitReport:
        """Offline fine-tune of the current weights with warmup and linear decay to 0.

        Build a new trainer for a fresh student; this call neither reads nor fills the replay
        buffer. `on_epoch` is told of each finished epoch (a progress bar, say).
        """
        usable = self._usable(examples)
        epochs = epochs or self.config.final_epochs
        steps = epochs * -(-len(usable) // self.config.train_batch_size)
        optimizer = make_optimizer(self.model, self.config.learning_rate, self.config.weight_decay)
        scheduler = offline_schedule(optimizer, steps, self.config.warmup_ratio)
        report = self._train(usable, epochs, optimizer, scheduler, on_epoch)
        return report.model_copy(update={"skipped": len(examples) - len(usable)})

    @property
    def learning_rate(self) -> float:
        """The LR the next online step would use."""
        optimizer, _ = self._online_state()
        return float(optimizer.param_groups[0]["lr"])

    def _online_state(self):
        if self._online is None:
            optimizer = make_optimizer(
                self.model, self.config.learning_rate, self.config.weight_decay
            )
            self._online = (optimizer, online_schedule(optimizer, self.config.online_warmup_steps))
        return self._online

    def _usable(self, examples: Sequence[StudentExample]) -> list[StudentExample]:
        """Drop items without a label (never fill them in); reject labels the model cannot hold."""
        if self.config.task == "spans":
            for ex in examples:
                unknown = {s.type for s in ex.spans} - set(self.config.span_types)
                if unknown:
                    raise StudentError(f"example {ex.id}: unknown span types {sorted(unknown)}")
            return list(examples)
        usable = [ex for ex in examples if ex.label is not None]
        for ex in usable:
            if ex.label >= self.config.num_labels:
                raise StudentError(
                    f"example {ex.id}: label {ex.label} >= num_labels {self.config.num_labels}"
                )
        if len(usable) < len(examples):
            logger.info("skipping %d unlabelled examples", len(examples) - len(usable))
        return usable

    def _train(
        self,
        examples: list[StudentExample],
        epochs: int,
        optimizer,
        scheduler,
        on_epoch: EpochHook | None = None,
    ) -> FitReport:
        start = time.perf_counter()
        encoded = encode_examples(
            self.tokenizer,
            examples,
            self.config.max_length,
            self.tag2id if self.tag_names else None,
        )
        epoch_losses, steps = [], 0
        self.model.train()
        for epoch in range(epochs if encoded else 0):
            losses = [self._step(batch, optimizer, scheduler) for batch in self._batches(encoded)]
            steps += len(losses)
            epoch_losses.append(sum(losses) / len(losses))
            logger.debug(
                "epoch %d/%d: loss %.4f over %d examples",
                epoch + 1,
                epochs,
                epoch_losses[-1],
                len(encoded),
            )
            if on_epoch is not None:
                on_epoch(epoch + 1, epochs, epoch_losses[-1])
        seconds = time.perf_counter() - start
        samples = len(encoded) * len(epoch_losses)
        return FitReport(
            loss=epoch_losses[-1] if epoch_losses else None,
            epoch_losses=epoch_losses,
            steps=steps,
            examples=len(encoded),
            seconds=seconds,
            samples_per_s=samples / seconds if seconds > 0 else 0.0,
            learning_rate=float(optimizer.param_groups[0]["lr"]),
        )

    def _batches(self, encoded: list[Encoded]):
        lengths = [len(e.input_ids) for e in encoded]
        for batch in shuffled_batches(
            lengths, self.config.train_batch_size, self._shuffle, self.config.group_by_length
        ):
            yield [encoded[j] for j in batch]

    def _step(self, batch: list[Encoded], optimizer, scheduler) -> float:
        inputs = {
            k: v.to(self.device) for k, v in collate(batch, self.tokenizer.pad_token_id).items()
        }
        weights = inputs.pop("weights", None)
        if weights is None:
            loss = self.model(**inputs).loss
        else:
            labels = inputs.pop("labels")
            loss = weighted_loss(self.model(**inputs).logits, labels, weights)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    @torch.no_grad()
    def predict(self, texts: Sequence[str]) -> list[StudentPrediction]:
        """Label, probabilities and confidence per text (or spans and confidence for span tasks).

        Texts are batched by length (padding is masked, so this changes nothing but speed) and
        answers come back in input order.
        """
        self.model.eval()
        encoded = encode_texts(self.tokenizer, texts, self.config.max_length)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
        predictions: list[StudentPrediction | None] = [None] * len(encoded)
        size = self.config.eval_batch_size
        for start in range(0, len(order), size):
            indices = order[start : start + size]
            for i, prediction in zip(
                indices, self._predict_batch([encoded[i] for i in indices]), strict=True
            ):
                predictions[i] = prediction
        return predictions

    def _predict_batch(self, batch: list[Encoded]) -> list[StudentPrediction]:
        inputs = collate(batch, self.tokenizer.pad_token_id)
        logits = self.model(**{k: v.to(self.device) for k, v in inputs.items()}).logits
        if self.tag_names:
            return decode_spans(logits, [e.offsets for e in batch], dict(enumerate(self.tag_names)))
        return decode_classification(logits)

    def save(self, path: str | os.PathLike) -> Path:
        """Write weights, tokenizer, config, replay buffer and online optimiser state."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with quiet_transformers():  # no "Writing model shards" bar unless verbose
            self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        (path / CONFIG_FILE).write_text(self.config.model_dump_json(exclude={"model"}, indent=2))
        (path / REPLAY_FILE).write_text(
            "".join(ex.model_dump_json() + "\n" for ex in self.replay.items)
        )
        if self._online is not None:
            optimizer, scheduler = self._online
            torch.save(
                {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                path / STATE_FILE,
            )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides) -> StudentTrainer:
        """Rebuild a saved student; ``overrides`` change config fields such as ``device``."""
        path = Path(path)
        fields = json.loads((path / CONFIG_FILE).read_text())
        config = StudentConfig(**{**fields, "model": str(path), **overrides})
        trainer = cls(config)
        lines = (
            (path / REPLAY_FILE).read_text().splitlines() if (path / REPLAY_FILE).exists() else []
        )
        trainer.replay.add([StudentExample.model_validate_json(line) for line in lines])
        if (path / STATE_FILE).exists():
            state = torch.load(path / STATE_FILE, map_location=trainer.device, weights_only=True)
            optimizer, scheduler = trainer._online_state()
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        return trainer

"""The run configuration: one frozen, validated root, loadable from YAML.

Methods are named presets (data, not `if method == ...`): each is a set of switches on the same
graph. An unknown method name fails and lists the known ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dualchecker.agents.backends import BackendConfig
from dualchecker.agents.checkers import FinalRule
from dualchecker.agents.llm_cache import TokenPrice
from dualchecker.agents.types import Task
from dualchecker.errors import ConfigError


class DataSource(BaseModel):
    """Where records come from and which fields hold what."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    path: Path
    format: Literal["auto", "jsonl", "csv"] = "auto"
    id_field: str = "id"
    """Missing ids become '<file stem>-<row>'."""
    text_field: str = "text"
    detail_field: str = "detail"
    label_field: str = "label"
    spans_field: str = "spans"
    """A list of {type, start, end} character offsets."""
    label_map: dict[str, str] = Field(default_factory=dict)
    """Rename raw labels, e.g. {'0': 'no', '1': 'yes'}."""
    span_type_map: dict[str, str] = Field(default_factory=dict)
    """Rename raw span types, e.g. {'ARG0': 'cause'}."""
    limit: int | None = Field(None, gt=0)
    """Read only the first N valid rows."""
    on_bad_row: Literal["error", "skip"] = "error"


class MethodConfig(BaseModel):
    """Which parts of DualChecker (or which baseline) run."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    name: str = "dualchecker"
    n_shot: int = Field(5, ge=0)
    """Demonstrations per prompt."""
    demonstrations: Literal["aligned", "static", "paper"] = "aligned"
    """aligned = ContextAligner's nearest neighbours; static = a fixed set; paper = the reference
    code's mix (see `agents.demonstrations.paper_retrieved`)."""
    explain_examples: bool = True
    """Teacher writes a rationale for each example's gold answer."""
    style: Literal["plain", "cot"] = "plain"
    teacher_checker: bool = True
    threshold: float = Field(0.75, ge=0.0, le=1.0)
    """Teacher checker: re-prompt below this confidence."""
    max_reprompts: int = Field(1, ge=0)
    max_reasks: int = Field(1, ge=0)
    """A malformed reply is shown to the model with its error and re-asked, this many times, before
    the teacher checker sees the record."""
    reprompt_shots: int | None = Field(None, ge=0)
    """Demonstrations in a re-prompt (default 2 × n_shot)."""
    final_rule: FinalRule = "most_confident"
    student: bool = True
    """Train a student online, batch by batch, inside the loop (needed by the student checker and
    EvoKD)."""
    student_checker: bool = True
    """Student's borderline cases refine the template."""
    borderline_per_batch: int = Field(1, ge=0)
    template_size: int = Field(2, ge=0)
    """Latest template demonstrations shown in each prompt."""
    evokd: bool = False
    """Student errors → LLM writes new labelled training samples."""
    # A teacher whose confidence means something (classification tasks; spans keep verbalised).
    confidence: Literal["token_probability", "verbalised"] = "verbalised"
    """token_probability: read every label's probability from the model (falls back to sample
    agreement); verbalised: ask for a number."""
    samples: int = Field(5, ge=1)
    """Answers sampled for agreement when the backend has no log-probabilities (1 = use the stated
    number)."""
    verbalise: bool = False
    """Also record the number the model states beside its token probability (costs a few output
    tokens)."""
    balanced: bool = False
    """Aligned demonstrations: the nearest examples of each label in turn, instead of the nearest
    overall."""
    calibrate: bool = False
    """Fit a calibration on a sample of the human pool before labelling (token_probability only)."""
    calibration_size: int | None = Field(None, ge=10)
    """Pool examples the teacher answers for it; by default 360 for labels, 120 for spans (see
    `calibration_examples`)."""
    calibration_form: Literal["full", "shared"] = "full"
    """full: a logistic regression on every label's log-probabilities; shared: one weight per
    source and a bias per label (few parameters: small pools, many labels, labels the pool
    lacks)."""
    decision: Literal["argmax", "f1"] = "argmax"
    """Binary tasks with a calibration: the most likely label, or the positive label from the
    probability cut that gives the best F1 on the pool sample (the pool model's rule)."""
    neighbour_vote: bool = False
    """Combine the teacher with what the human pool says about similar texts, weight fitted by the
    calibration."""
    vote: Literal["knn", "probe"] = "knn"
    """The pool's say: the k nearest examples' labels (kNN-prompting), or a linear probe on all the
    pool's embeddings (out-of-fold on the pool)."""
    vote_k: int = Field(16, ge=1)
    """Pool neighbours whose labels vote."""
    span_probe_epochs: int = Field(3, ge=1)
    """Spans with neighbour_vote: epochs of the pool's BIO tagger, whose spans the calibration
    weighs against the teacher's."""
    span_probe_model: str | None = None
    """HF id or folder of the pool tagger's encoder; default the packaged all-MiniLM-L6-v2."""
    target_accuracy: float = Field(0.75, gt=0.0, le=1.0)
    """Calibrated threshold rule: re-prompt where the pool shows accuracy below this."""
    max_reprompt_rate: float = Field(0.3, ge=0.0, le=1.0)
    judge_reprompts: bool = False
    """With a calibration: before labelling, re-prompt the pool sample's unsure answers as the run
    would, and stop re-prompting for doubt when a one-sided sign test on their flips shows harm
    (more right answers made wrong than wrong made right)."""
    reprompt_style: Literal["more", "contrastive"] = "more"
    """more: twice the demonstrations (paper); contrastive: the closest examples of the two most
    likely labels, side by side."""
    rationales: Literal["all", "reprompted", "none"] = "reprompted"
    """Which records get the teacher's own rationale (token_probability answers have none unless
    asked: it costs output tokens)."""

    def calibration_examples(self, task: Task) -> int:
        """The calibration sample's size. Labels: 360, which on claims beat 120 by +0.065 F1
        [+0.020, +0.116] on 230 records that played no part in choosing it (README). Spans: 120,
        as each span answer costs several calls (one per quote scored)."""
        if self.calibration_size is not None:
            return self.calibration_size
        return 120 if task.is_spans else 360

    @property
    def reprompt_k(self) -> int:
        """Demonstrations in a re-prompt: twice the first prompt's, and for contrastive
        re-prompts at least two examples of each of the two labels in question."""
        if self.reprompt_shots is not None:
            return self.reprompt_shots
        return max(2 * self.n_shot, 4) if self.reprompt_style == "contrastive" else 2 * self.n_shot


_NO_STUDENT_LOOP = dict(student=False, student_checker=False)
METHODS: dict[str, dict[str, Any]] = {
    "zero-shot": dict(n_shot=0, teacher_checker=False, explain_examples=False, **_NO_STUDENT_LOOP),
    "few-shot": dict(
        demonstrations="static", explain_examples=False, teacher_checker=False, **_NO_STUDENT_LOOP
    ),
    "cot": dict(demonstrations="static", style="cot", teacher_checker=False, **_NO_STUDENT_LOOP),
    "dtot": dict(
        demonstrations="static",
        explain_examples=False,
        teacher_checker=True,
        threshold=0.8,
        **_NO_STUDENT_LOOP,
    ),
    "evokd": dict(
        demonstrations="static",
        explain_examples=False,
        teacher_checker=False,
        student_checker=False,
        evokd=True,
    ),
    "aligner": dict(teacher_checker=False, **_NO_STUDENT_LOOP),
    "aligner+teacher-checker": dict(**_NO_STUDENT_LOOP),
    "aligner+student-checker": dict(teacher_checker=False),
    # DualChecker as first built after the paper: verbalised confidence, the nearest neighbours
    # explained by the teacher, twice the demonstrations on a re-prompt, most confident answer.
    "dualchecker-verbalised": dict(),
    # The reference code's layout: 0/1/1/2 retrieved neighbours at 0/1/3/5 shots after static
    # label-balanced examples, only the latest feedback demonstration, verbalised confidence,
    # threshold 0.75 (its Llama-2 setting), the re-prompted answer replaces the first.
    "paper": dict(
        demonstrations="paper",
        final_rule="latest",
        template_size=1,
        threshold=0.75,
        borderline_per_batch=1,
    ),
    "dualchecker": dict(
        confidence="token_probability",
        calibrate=True,
        # chosen on claims' development split at pools of 32, 128 and 512 (mean F1 0.666 against
        # 0.656 for the full form and 0.529 for the full form with the most likely label;
        # benchmarks/results/value_curve/environmental_claims/choice.json)
        calibration_form="shared",
        decision="f1",
        neighbour_vote=True,
        vote="probe",
        balanced=True,
        explain_examples=False,
        reprompt_style="contrastive",
        judge_reprompts=True,
        final_rule="average",
        rationales="reprompted",
    ),
}


def method(name: str, **overrides: Any) -> MethodConfig:
    """A named preset with optional overrides, e.g. ``method("dualchecker", n_shot=3)``."""
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; known: {sorted(METHODS)}")
    return MethodConfig(**{**METHODS[name], **overrides, "name": name})


RECOMMENDED = "dualchecker"
"""The method a configuration without `method:` runs (in YAML, `Run` and `dualchecker.label`)."""


def recommended_method() -> MethodConfig:
    """The recommended preset: what an omitted `method:` means. `MethodConfig`'s own field
    defaults are the base every preset overrides, so they are not the method a user gets."""
    return method(RECOMMENDED)


class RetrievalConfig(BaseModel):
    """The encoder that finds the nearest human-labelled examples."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    kind: Literal["sentence-transformers", "hashing"] = "sentence-transformers"
    model: str | None = None
    """Default: all-MiniLM-L6-v2 from the installed package."""
    max_seq_length: int | None = None
    """The paper's encoder embedded 75 tokens."""


class StudentSettings(BaseModel):
    """The student: online in the loop, then a fresh final fine-tune scored on held-out data."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    model: str | None = None
    """HF id or folder; default all-MiniLM-L6-v2 (packaged)."""
    learning_rate: float = Field(2e-5, gt=0)
    epochs_per_batch: int = Field(10, ge=1)
    """Paper: 10 epochs on each batch of 8."""
    replay: int = Field(32, ge=0)
    """Earlier examples replayed with each batch (no forgetting)."""
    max_length: int = Field(128, ge=8)
    final_epochs: int = Field(5, ge=1)
    use_ray: bool = True
    """Train in a Ray actor (GPU when the cluster has one)."""
    ray_address: str | None = None
    """Existing Ray cluster; default starts one locally."""
    timeout_s: float = Field(1800.0, gt=0)
    """Per student call."""
    eval: DataSource | None = None
    """Held-out gold data for the final student."""
    final: bool = True
    """Fine-tune a fresh student at the end on the human pool and all teacher labels."""
    human_pool: bool = True
    """The final student learns from the human pool (at weight 1) as well as the teacher's
    labels: the labels the user paid for are not thrown away."""
    teacher_weight: Literal["confidence", "uniform"] = "confidence"
    """How much a teacher label counts in the student's loss: its calibrated confidence, or 1
    (combine with `min_confidence` to filter instead)."""
    pool_only: bool = True
    """Also train the same student, same settings, on the human pool alone, and pair it with the
    run's student on the held-out records: did the teacher's labels help?"""
    pool_folds: int = Field(3, ge=0)
    """Without `eval` data: answer the pool-only question by this many folds of cross-validation
    on the pool (0 or 1: do not)."""
    self_training: bool = True
    """Also train it on the pool plus the pool model's own labels of the same records
    (self-training, weighted alike): the baseline a teacher has to beat besides the pool."""
    gold_reference: bool = True
    """Also train the same student on the labelled records' human labels, when they have them
    (a ceiling, for benchmarks)."""
    allow_eval_overlap: bool = False
    """Only warn (with counts) when evaluation texts also appear in the pool or inputs."""
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)
    """Train only on teacher labels at least this confident (calibrated when the run calibrates);
    None keeps all."""


class RunSettings(BaseModel):
    """Where a run lives and how it runs: batch size, concurrency, seed, LLM cache, retries."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    dir: Path = Path("runs/default")
    batch_size: int = Field(8, gt=0)
    """Records per student batch (paper: 8)."""
    max_concurrency: int = Field(4, gt=0)
    """Teacher calls in flight at once."""
    seed: int = 0
    llm_cache: bool | None = None
    """Cache LLM replies (default: yes when the backend comes from this config; a chat model passed
    in keeps its own `cache` setting)."""
    llm_cache_path: Path | None = None
    """Shared cache file; default <dir>/llm_cache.sqlite."""
    node_retries: int = Field(3, ge=1)
    """Tries of a teacher/aligner node when the backend is unavailable."""
    allow_pool_overlap: bool = False
    """Only warn (with counts) when pool texts are also inputs, instead of refusing the run; the
    pool probe and tagger then leave those texts out of what they train on."""
    inputs_gold_for_feedback: bool = False
    """The inputs' gold labels stand for a human who answers the student checker: it compares the
    student with them and feeds the misses back into the teacher's prompts (counted as human
    labels used). Off: gold on the inputs is for scoring only, and the checker works from
    teacher/student disagreement."""


class RunConfig(BaseModel):
    """Everything one DualChecker run needs; `dualchecker label CONFIG` reads this from YAML."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    task: Task
    inputs: DataSource
    """Texts to label (gold labels, if present, are for scoring only)."""
    pool: DataSource | None = None
    """Human-labelled examples (default: the inputs)."""
    backend: BackendConfig = Field(default_factory=BackendConfig)
    method: MethodConfig = Field(default_factory=recommended_method)
    """Default: the `dualchecker` preset (the old method is `dualchecker-verbalised`)."""
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    run: RunSettings = Field(default_factory=RunSettings)
    student: StudentSettings = Field(default_factory=StudentSettings)
    prompts_dir: Path | None = None
    prices: dict[str, TokenPrice] = Field(default_factory=dict)
    """$ per 1M tokens by model name, for the run's cost."""

    @model_validator(mode="before")
    @classmethod
    def _method_by_name(cls, data: Any) -> Any:
        """`method: dtot` or `method: {name: dtot, n_shot: 3}` expand the named preset."""
        if isinstance(data, dict):
            spec = data.get("method")
            if isinstance(spec, str):
                data = {**data, "method": method(spec).model_dump()}
            elif isinstance(spec, dict):
                name = spec.get("name", RECOMMENDED)
                if name not in METHODS:  # a typo must not run the full method under its name
                    raise ConfigError(f"unknown method {name!r}; known: {sorted(METHODS)}")
                data = {**data, "method": {**METHODS[name], **spec, "name": name}}
        return data

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> RunConfig:
        """Load and validate; relative paths are taken from the YAML file's folder."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read YAML: {exc}") from None
        raw = _resolve_paths(raw, path.parent)
        raw.update(overrides)
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{path}: {problems}") from None


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    raw = dict(raw)
    for key in ("inputs", "pool"):
        if isinstance(raw.get(key), dict) and "path" in raw[key]:
            raw[key] = {**raw[key], "path": str(base / raw[key]["path"])}
    student = raw.get("student")
    if (
        isinstance(student, dict)
        and isinstance(student.get("eval"), dict)
        and "path" in student["eval"]
    ):
        raw["student"] = {
            **student,
            "eval": {**student["eval"], "path": str(base / student["eval"]["path"])},
        }
    if raw.get("prompts_dir"):
        raw["prompts_dir"] = str(base / raw["prompts_dir"])
    if isinstance(raw.get("run"), dict) and "dir" in raw["run"]:
        raw["run"] = {**raw["run"], "dir": str(base / raw["run"]["dir"])}
    if isinstance(raw.get("run"), dict) and raw["run"].get("llm_cache_path"):
        raw["run"] = {**raw["run"], "llm_cache_path": str(base / raw["run"]["llm_cache_path"])}
    return raw

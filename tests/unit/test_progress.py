"""Every long step shows how far it has got, in order, and nothing shows under progress=False."""

from __future__ import annotations

import json
import math
import re

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.scripted import ScriptedChatModel
from dualchecker.data import DataSource
from dualchecker.graph.config import RunConfig, RunSettings, method
from dualchecker.runner import Run
from dualchecker.training.config import StudentConfig
from dualchecker.training.data import StudentExample
from dualchecker.training.evaluate import train_and_evaluate
from dualchecker.training.progress import progress_bar, progress_bars
from dualchecker.training.testing import save_tiny_student
from dualchecker.training.trainer import StudentTrainer
from tests.fakes import BINARY, current_text, records

# Thirty human-labelled texts, green claims and plain business news.
POOL = records(
    [
        (f"p{i}", text, label)
        for i, (text, label) in enumerate(
            [
                ("We cut carbon emissions at every plant.", "yes"),
                ("Our solar farm doubled output.", "yes"),
                ("We recycle all packaging.", "yes"),
                ("Revenue grew in the third quarter.", "no"),
                ("The board met twice.", "no"),
                ("Sales fell in Asia.", "no"),
                ("A new CFO was hired.", "no"),
                ("Margins improved on pricing.", "no"),
                ("Our fleet now runs on biofuel.", "yes"),
                ("Dividends rose by 5 percent.", "no"),
                ("We planted a million trees.", "yes"),
                ("Costs were flat year on year.", "no"),
            ]
            * 3
        )
    ]
)


INPUTS = records(
    [
        ("i1", "Our plants run on wind power.", "yes"),
        ("i2", "Profit rose in the second half.", "no"),
        ("i3", "We cut carbon by half.", "yes"),
    ]
)


def unsure_teacher(messages):
    """Sure of most texts, torn on two (one "yes", one "no" by the pool): those stay unsure
    however the calibration scales the model, so the judgement of re-prompts has work to do."""
    text = current_text(messages).lower()
    if "recycle" in text or "revenue" in text:
        p = 0.6
    else:
        p = 0.9 if any(w in text for w in ("carbon", "solar", "biofuel", "trees", "wind")) else 0.1
    return {" yes": math.log(p), " no": math.log(1 - p)}


def calibrated_run(tmp_path, progress: bool):
    model = ScriptedChatModel(
        responder=lambda m: json.dumps({"rationale": "because"}), logprobs=unsure_teacher
    )
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method(
            "dualchecker",
            student=False,
            student_checker=False,
            calibration_size=30,
            neighbour_vote=False,  # the pool's say would settle the torn texts
        ),
        run=RunSettings(dir=tmp_path / "run", batch_size=2),
    )
    run = Run(config, llm=model, embedder=HashingEmbedder(), inputs=INPUTS, pool=POOL)
    return run.execute(progress=progress)


def bar_end(err: str, desc: str, total: int) -> int:
    """Where the bar `desc` shows all `total` steps done (it fails the test if it never does)."""
    found = re.search(re.escape(desc) + rf":\s+100%\|[^|]*\| {total}/{total} \[", err)
    assert found, f"no finished {desc!r} bar in:\n{err}"
    return found.start()


def test_the_calibration_shows_its_pool_answers_and_judged_reprompts_before_labelling(
    tmp_path, capsys
):
    summary = calibrated_run(tmp_path, progress=True)
    err = capsys.readouterr().err
    pool = bar_end(err, "calibration: pool answers", 30)
    tried = summary.calibration["reprompt_effect"]["tried"]
    assert tried > 0
    judged = bar_end(err, "calibration: re-prompting unsure answers", tried)
    assert pool < judged < bar_end(err, "labelling", 3)


def test_no_progress_shows_no_bar(tmp_path, capsys):
    calibrated_run(tmp_path, progress=False)
    assert "%|" not in capsys.readouterr().err


def test_the_trainer_tells_each_epoch_and_the_final_student_shows_them(tmp_path, capsys):
    tiny = save_tiny_student(tmp_path / "tiny")
    config = StudentConfig(model=tiny, task="classification", num_labels=2, final_epochs=3)
    train = [
        StudentExample(id=str(i), text=text, label=i % 2)
        for i, text in enumerate(["We plant trees.", "Sales rose.", "Solar power.", "A CFO."])
    ]
    told = []
    report = StudentTrainer(config).fit(train, on_epoch=lambda *args: told.append(args))
    assert told == [(n, 3, loss) for n, loss in enumerate(report.epoch_losses, 1)]
    capsys.readouterr()
    train_and_evaluate(config, train, train, name="final student")
    assert bar_end(capsys.readouterr().err, "final student: fine-tuning", 3) >= 0
    with progress_bars(False):
        train_and_evaluate(config, train, train, name="final student")
        with progress_bar(5, "anything") as advance:
            advance(5)
    assert "%|" not in capsys.readouterr().err

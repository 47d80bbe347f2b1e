"""The house rules that keep the code easy to follow: layers, typed wiring, retrieval by text."""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import pytest

from dualchecker.agents.aligner import ExampleIndex
from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.types import Record

ROOT = Path(__file__).resolve().parents[2]
LOWER = ("agents", "graph", "training")
# what a lower layer may import from the application package: only its base errors
ALLOWED_FROM_TOP = {"dualchecker.errors"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("folder", LOWER)
def test_lower_layers_never_import_the_application(folder):
    lower = tuple(f"dualchecker.{name}" for name in (*LOWER, "prompts"))
    for path in sorted((ROOT / folder).glob("*.py")):
        for module in imported_modules(path):
            if not module.startswith("dualchecker") or module.startswith(lower):
                continue
            assert module in ALLOWED_FROM_TOP, f"{path.relative_to(ROOT)} imports {module}"


def test_agents_know_nothing_of_langgraph():
    for path in sorted((ROOT / "agents").glob("*.py")):
        assert not any(m.startswith("langgraph") for m in imported_modules(path)), path.name


def test_the_run_context_is_typed_all_the_way():
    from dualchecker.graph.context import RunContext

    hints = typing.get_type_hints(RunContext)
    for field in dataclasses.fields(RunContext):
        hint = hints[field.name]
        assert hint is not typing.Any, field.name
        assert typing.Any not in typing.get_args(hint), field.name


def test_graph_and_trace_drawings_need_no_agent(monkeypatch):
    from dualchecker.agents import aligner, checkers, student, teacher, template
    from dualchecker.graph.build import draw_mermaid
    from dualchecker.graph.config import method
    from dualchecker.trace.machine import compiled_graph

    def refuse(*args, **kwargs):
        raise AssertionError("an agent was built to draw the graph")

    for cls in (
        teacher.Teacher,
        aligner.ContextAligner,
        student.StudentAgent,
        template.TemplateRefiner,
    ):
        monkeypatch.setattr(cls, "__init__", refuse)
    monkeypatch.setattr(checkers.TeacherChecker, "model_post_init", refuse)
    assert "calibrate" in draw_mermaid(method("dualchecker"))
    assert compiled_graph(method("dualchecker").model_dump(), student=True) is not None


def test_a_pool_id_equal_to_an_input_id_does_not_change_retrieval():
    pool = [
        Record(id=str(i), text=text, label=label)
        for i, (text, label) in enumerate(
            [
                ("We cut carbon emissions at every plant.", "yes"),
                ("Revenue grew in the quarter.", "no"),
                ("Our solar farm doubled its output.", "yes"),
                ("The board met twice this year.", "no"),
            ]
        )
    ]
    # ids restart at 0 in the input file: "0" is also the id of a pool example with another text
    clash = Record(id="0", text="Quarterly revenue grew strongly.")
    apart = Record(id="input-0", text="Quarterly revenue grew strongly.")
    index = ExampleIndex(pool, HashingEmbedder())
    assert [r.id for r, _ in index.neighbours(clash, 2)] == [
        r.id for r, _ in index.neighbours(apart, 2)
    ]
    assert index.neighbours(clash, 1)[0][0].text == "Revenue grew in the quarter."

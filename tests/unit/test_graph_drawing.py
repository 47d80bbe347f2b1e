"""The documented one-liner prints the state machine with the re-prompt edge visible."""

from typer.testing import CliRunner

from dualchecker.cli import app
from dualchecker.graph.build import draw_mermaid
from dualchecker.graph.config import method


def test_cli_prints_mermaid_with_the_reprompt_loop():
    out = CliRunner().invoke(app, ["graph"]).output
    assert out.lstrip().startswith("---") and "graph TD;" in out
    assert "label_record\\3ateach -. &nbsp;low confidence&nbsp; .-> label_record\\3areprompt;" in out
    assert "check_student -. &nbsp;borderline&nbsp; .-> refine_template;" in out


def test_baselines_draw_their_own_shape():
    assert "train_student" not in draw_mermaid(method("dtot"))
    assert "synthesise" in draw_mermaid(method("evokd"))

"""The documented one-liner prints the state machine with the re-prompt edge visible."""

from typer.testing import CliRunner

from dualchecker.cli import app
from dualchecker.graph.build import draw_mermaid
from dualchecker.graph.config import method


def test_cli_prints_mermaid_with_the_reprompt_loop():
    out = CliRunner().invoke(app, ["graph"]).output
    assert out.lstrip().startswith("graph TD;")
    assert "label_record_teach -. low confidence .-> label_record_reprompt;" in out
    assert "check_student -. borderline .-> refine_template;" in out
    assert "__start__ --> calibrate;" in out and "calibrate --> plan_batch;" in out


def test_baselines_draw_their_own_shape():
    assert "train_student" not in draw_mermaid(method("dtot"))
    assert "synthesise" in draw_mermaid(method("evokd"))

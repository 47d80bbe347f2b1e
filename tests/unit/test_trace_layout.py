"""Building blocks of the trace views: graph layout, redaction, percentiles, histograms."""

from __future__ import annotations

import pytest

from dualchecker.agents.types import Usage
from dualchecker.events import Event
from dualchecker.trace.layout import RANK_GAP, Edge, Node, layout
from dualchecker.trace.machine import compiled_graph, graph_svg
from dualchecker.trace.redact import MASK, redact, redact_text
from dualchecker.trace.stats import cost_rows, histogram, percentile


def graph(edges: list[tuple[str, str]]) -> tuple[list[Node], list[Edge]]:
    names = list(dict.fromkeys(n for pair in edges for n in pair))
    return [Node(id=n, label=n, width=80) for n in names], [Edge(a, b) for a, b in edges]


def test_loops_back_are_turned_around_and_forward_edges_go_down():
    nodes, edges = graph(
        [
            ("start", "plan"),
            ("plan", "teach"),
            ("teach", "re"),
            ("re", "re"),
            ("teach", "final"),
            ("re", "final"),
            ("final", "collect"),
            ("collect", "plan"),
            ("collect", "end"),
        ]
    )
    placed = layout(nodes, edges, start="start")
    back = [(e.source, e.target) for e in edges if e.back]
    assert back == [("collect", "plan")]
    assert placed.nodes["re"].loop and not placed.nodes["teach"].loop
    # the loop back climbs through a waypoint on each rank between, beside the nodes there
    climb = next(e for e in edges if e.back)
    ranks = range(placed.nodes["collect"].rank - 1, placed.nodes["plan"].rank, -1)
    assert [y for _, y in climb.waypoints] == [RANK_GAP * r for r in ranks]
    for edge in edges:
        if not edge.back and not edge.is_loop:
            assert placed.nodes[edge.source].y < placed.nodes[edge.target].y, edge
    # teach → final skips the rank of 're': it gets one waypoint, beside 're', not through it
    skip = next(e for e in edges if (e.source, e.target) == ("teach", "final"))
    assert len(skip.waypoints) == 1
    assert abs(skip.waypoints[0][0] - placed.nodes["re"].x) > placed.nodes["re"].width / 2


def test_nodes_of_a_rank_never_overlap():
    nodes, edges = graph([("s", "a"), ("s", "b"), ("s", "c"), ("a", "d"), ("b", "d"), ("c", "d")])
    placed = layout(nodes, edges, start="s")
    rank = sorted((n for n in placed.nodes.values() if n.rank == 1), key=lambda n: n.x)
    assert len(rank) == 3
    for left, right in zip(rank, rank[1:]):
        assert left.x + left.width / 2 < right.x - right.width / 2


@pytest.mark.parametrize("student", [False, True])
def test_boxes_and_loop_room_never_overlap_in_the_real_graph(student):
    drawn = compiled_graph({}, student=student)
    nodes = [Node(id=n, label=n, width=7.4 * len(n) + 28) for n in drawn.nodes]
    layout(nodes, [Edge(e.source, e.target) for e in drawn.edges], start="__start__")  # in place
    for rank in {n.rank for n in nodes}:
        spans = sorted(
            (n.x - n.width / 2, n.x - n.width / 2 + n.slot) for n in nodes if n.rank == rank
        )
        assert all(left[1] < right[0] for left, right in zip(spans, spans[1:])), spans


def test_unconnected_parts_are_placed_side_by_side():
    nodes, edges = graph([("a", "b"), ("c", "d")])
    placed = layout(nodes, edges, start="a")
    boxes = sorted((n.x - n.width / 2, n.x + n.width / 2) for n in placed.nodes.values())
    assert boxes[1][0] == boxes[0][0] and boxes[1][1] < boxes[2][0]  # a over b, c and d beside


@pytest.mark.parametrize("student", [False, True])
def test_the_real_graph_draws_every_node_and_named_edge(student):
    drawn = compiled_graph({}, student=student)
    svg = graph_svg(drawn)
    for node in drawn.nodes:
        assert f'data-node="{node}"' in svg
    for edge in drawn.edges:
        if isinstance(edge.data, str):
            assert f'data-label="{edge.data}"' in svg
    assert ('data-node="refine_template"' in svg) is student
    # the per-record subgraph is drawn inside, re-prompt loop included
    assert (
        'data-source="label_record:teach" data-target="label_record:reprompt" data-label="low confidence"'
        in svg
    )


def test_an_evokd_graph_draws_its_feedback_node():
    svg = graph_svg(compiled_graph({"name": "evokd", "evokd": True}, student=True))
    assert 'data-node="synthesise"' in svg and 'data-node="refine_template"' not in svg


def test_redaction_masks_key_like_strings_only():
    assert redact_text("key sk-proj-abcdefghijklmnop1234 end") == f"key {MASK} end"
    assert (
        redact_text("Authorization: Bearer abcdefghijklmnopqrstu")
        == f"Authorization: Bearer {MASK}"
    )
    assert redact_text("lsv2_pt_0123456789abcdef_0123") == MASK
    assert redact_text("a task-list and sk-learn stay") == "a task-list and sk-learn stay"
    assert redact(
        {"backend": {"api_key": "anything", "model": "m"}, "n": [1, "sk-aaaaaaaaaaaaaaaa"]}
    ) == {"backend": {"api_key": MASK, "model": "m"}, "n": [1, MASK]}


def test_percentile_interpolates_like_numpy():
    values = [0.1, 0.2, 0.3, 0.4, 1.0]
    assert percentile(values, 0.5) == 0.3
    assert percentile(values, 0.95) == pytest.approx(0.88)
    assert percentile([], 0.5) is None


def test_histogram_bins_cover_zero_to_one_inclusive():
    assert histogram([0.0, 0.05, 0.1, 0.95, 1.0, None]) == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]


def test_cost_rows_split_teacher_attempts_and_count_cache_hits_apart():
    def event(seq, agent, kind, seconds=None, tokens=None, **data):
        usage = Usage(input_tokens=tokens, output_tokens=1) if tokens is not None else None
        return Event(
            run_id="r",
            seq=seq,
            ts=0.0,
            agent=agent,
            kind=kind,
            seconds=seconds,
            usage=usage,
            data=data,
        )

    rows = {
        (r.agent, r.kind): r
        for r in cost_rows(
            [
                event(0, "teacher", "answer", 0.2, 100, reprompt=False),
                event(1, "teacher", "answer", 0.4, 150, reprompt=True),
                event(2, "teacher", "answer", 0.0, 100, reprompt=False, cached=True),
                event(3, "student", "batch_trained", 2.0),
                event(4, "runner", "batch_planned"),
            ]
        )
    }
    first = rows[("teacher", "answer (first)")]
    assert (first.calls, first.cache_hits, first.input_tokens, first.seconds) == (1, 1, 100, [0.2])
    assert rows[("teacher", "answer (re-prompt)")].input_tokens == 150
    assert rows[("student", "batch_trained")].total_seconds == 2.0
    assert ("runner", "batch_planned") not in rows
    total = rows[("all", "LLM calls")]
    assert (total.calls, total.input_tokens, total.cache_hits) == (2, 250, 1)

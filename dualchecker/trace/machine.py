"""The run's state machine as inline SVG, drawn from the compiled LangGraph graph (no Mermaid JS).

Nodes are coloured by the agent they run and annotated with how often they ran in this run;
conditional edges are dashed and carry the router's edge name ('low confidence', 'borderline' …).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from html import escape
from typing import Any

from markupsafe import Markup

from dualchecker.trace.layout import NODE_HEIGHT, Edge, Layout, Node, layout
from dualchecker.trace.report import RunReport
from dualchecker.trace.svg import element, svg, text

log = logging.getLogger(__name__)

CHAR_WIDTH = 7.4
LABEL_ROOM = 80  # beside an edge's bend, for its label
MARGIN = 16
CLUSTER_PAD = 14
AGENT_OF_NODE = {
    "plan_batch": "runner",
    "collect": "runner",
    "align": "aligner",
    "teach": "teacher",
    "reprompt": "teacher",
    "finalize": "teacher_checker",
    "train_student": "student",
    "check_student": "student_checker",
    "refine_template": "student_checker",
    "synthesise": "student_checker",
}
TERMINALS = {"__start__": "start", "__end__": "end"}


def compiled_graph(method: dict[str, Any], *, student: bool):
    """The drawable graph (LangGraph's `Graph`, subgraphs expanded) for a run's method settings.

    Built like `dualchecker.graph.build.draw_mermaid`: no model, data or agent is needed.
    """
    from dualchecker.graph.build import build_graph, drawing_context
    from dualchecker.graph.config import MethodConfig

    try:
        config = MethodConfig.model_validate(method)
    except ValueError:
        config = MethodConfig()
    ctx = drawing_context(config, student=student)
    compiled = build_graph(ctx)
    return _expand_subgraphs(compiled, compiled.get_graph(xray=True))


def _expand_subgraphs(compiled: Any, drawn: Any) -> Any:
    """Put compiled subgraphs that `xray` skipped into the drawing, as LangGraph does for the rest.

    LangGraph's xray leaves out a subgraph compiled with ``checkpointer=False``; it is drawn
    here the same way: its first and last nodes take over the edges of the node it replaces.
    """
    from langgraph.pregel import Pregel

    for name, node in compiled.nodes.items():
        if not isinstance(node.bound, Pregel) or name not in drawn.nodes:
            continue
        sub = _expand_subgraphs(node.bound, node.bound.get_graph(xray=True))
        if len(sub.nodes) <= 1 or not sub.first_node() or not sub.last_node():
            continue
        sub.trim_first_node()
        sub.trim_last_node()
        drawn.nodes.pop(name)
        first, last = drawn.extend(sub, prefix=name)
        drawn.edges = [
            edge.copy(
                source=last.id if edge.source == name else edge.source,
                target=first.id if edge.target == name else edge.target,
            )
            for edge in drawn.edges
        ]
    return drawn


def run_graph(report: RunReport) -> tuple[Any, str | None]:
    """The graph this run used, and a note when the student side could not be drawn."""
    student = report.has_student or bool(report.method.get("student"))
    try:
        return compiled_graph(report.method, student=student), None
    except ImportError as exc:
        if not student:
            raise
        log.warning("student side of the graph cannot be built (%s); drawing the teacher side", exc)
        return compiled_graph(report.method, student=False), f"student side not drawn: {exc}"


def node_runs(report: RunReport) -> dict[str, int]:
    """How many times each node ran, counted from the events it emits."""
    answers = report.select("teacher", "answer")
    checks = len(report.select("student_checker", "borderline"))
    return {
        "plan_batch": len(report.select("runner", "batch_planned")),
        "align": len(report.select("aligner", "demonstrations")),
        "teach": sum(not e.data.get("reprompt") for e in answers),
        "reprompt": sum(bool(e.data.get("reprompt")) for e in answers),
        "finalize": len(report.select("teacher_checker", "final")),
        "collect": len(report.select("runner", "batch_labelled")),
        "train_student": len(report.select("student", "batch_trained")),
        "refine_template": len(report.select("student_checker", "template_changed")),
        "synthesise": len(report.select("student_checker", "samples_written")),
        # a student checker that is switched off runs without a word: count only what it said
        **({"check_student": checks} if checks else {}),
    }


def graph_svg(graph: Any, runs: dict[str, int] | None = None) -> Markup:
    """Lay out a LangGraph `Graph` (nodes, edges with conditional labels) and draw it as SVG."""
    runs = runs or {}
    nodes = [
        Node(
            id=n.id,
            label=TERMINALS.get(n.id, n.name),
            width=max(64.0, CHAR_WIDTH * len(TERMINALS.get(n.id, n.name)) + 28),
        )
        for n in graph.nodes.values()
    ]
    edges = [
        Edge(
            e.source,
            e.target,
            label=e.data if isinstance(e.data, str) else None,
            conditional=e.conditional,
        )
        for e in graph.edges
    ]
    placed = layout(nodes, edges, start="__start__")
    return _draw(placed, runs)


def _draw(placed: Layout, runs: dict[str, int]) -> Markup:
    body = [_clusters(_cluster_boxes(placed))]
    ports = _ports(placed)
    for edge in placed.edges:
        if edge.is_loop:
            body.append(_loop(edge, placed.nodes[edge.source]))
        else:
            body.append(_edge(edge, placed, ports))
    body += [_node(n, runs.get(n.label)) for n in placed.nodes.values()]
    return _canvas(placed, body)


def _canvas(placed: Layout, body: list[str]) -> Markup:
    nodes = placed.nodes.values()
    bends = [x for e in placed.edges for x, _ in e.waypoints]  # an edge label goes beside one
    left = min([n.x - n.width / 2 for n in nodes] + [x - LABEL_ROOM for x in bends])
    right = max([n.x - n.width / 2 + n.slot for n in nodes] + [x + LABEL_ROOM for x in bends])
    left, right = left - CLUSTER_PAD - MARGIN, right + CLUSTER_PAD + MARGIN
    bottom = max(n.y for n in nodes) + NODE_HEIGHT / 2 + CLUSTER_PAD + MARGIN
    top = -NODE_HEIGHT / 2 - MARGIN
    defs = element(
        "defs",
        "".join(
            element(
                "marker",
                element("path", d="M0,0 L10,5 L0,10 z"),
                id=f"arrow-{kind}",
                viewBox="0 0 10 10",
                refX=9,
                refY=5,
                markerWidth=9,
                markerHeight=9,
                markerUnits="userSpaceOnUse",
                orient="auto-start-reverse",
                class_=f"arrow {kind}",
            )
            for kind in ("plain", "reprompt", "loop")
        ),
    )
    group = element("g", "".join(body), transform=f"translate({-left:.1f},{-top:.1f})")
    return svg(
        right - left, bottom - top, [defs, group], label="DualChecker state machine", class_="graph"
    )


def _cluster_boxes(placed: Layout) -> list[tuple[str, float, float, float, float]]:
    """(name, x0, y0, x1, y1) around each subgraph's nodes (LangGraph ids them 'subgraph:node')."""
    groups: dict[str, list[Node]] = defaultdict(list)
    for node in placed.nodes.values():
        if ":" in node.id:
            groups[node.id.rsplit(":", 1)[0]].append(node)
    boxes = []
    for name, members in groups.items():
        inside = {n.id for n in members}
        xs = [x for e in placed.edges if {e.source, e.target} <= inside for x, _ in e.waypoints]
        x0 = min(n.x - n.width / 2 for n in members) - CLUSTER_PAD
        x1 = max([n.x - n.width / 2 + n.slot for n in members] + [x + 40 for x in xs]) + CLUSTER_PAD
        y0 = min(n.y for n in members) - NODE_HEIGHT / 2 - CLUSTER_PAD - 12
        y1 = max(n.y for n in members) + NODE_HEIGHT / 2 + CLUSTER_PAD
        boxes.append((name, x0, y0, x1, y1))
    return boxes


def _clusters(boxes: list[tuple[str, float, float, float, float]]) -> str:
    parts = []
    for name, x0, y0, x1, y1 in boxes:
        parts.append(
            element("rect", x=x0, y=y0, width=x1 - x0, height=y1 - y0, rx=10, class_="cluster")
        )
        parts.append(
            element(
                "text",
                element(
                    "title",
                    "the per-record subgraph, run once per record of the batch, in parallel",
                )
                + escape(name),
                x=x0 + 8,
                y=y0 + 14,
                class_="cluster-label",
            )
        )
    return "".join(parts)


def _node(node: Node, count: int | None) -> str:
    agent = AGENT_OF_NODE.get(node.label, "terminal" if node.id in TERMINALS else "other")
    x, y, w = node.x - node.width / 2, node.y - NODE_HEIGHT / 2, node.width
    radius = NODE_HEIGHT / 2 if node.id in TERMINALS else 8
    label_y = node.y + (0 if count is not None else 4)
    parts = [
        element(
            "rect",
            element("title", f"{node.id} ({agent})"),
            x=x,
            y=y,
            width=w,
            height=NODE_HEIGHT,
            rx=radius,
        ),
        text(node.x, label_y, node.label, class_="node-label", text_anchor="middle"),
    ]
    if count is not None:
        parts.append(
            text(node.x, node.y + 13, f"ran {count}×", class_="node-runs", text_anchor="middle")
        )
    return element("g", "".join(parts), class_=f"node agent-{agent}", data_node=node.id)


def _ports(placed: Layout) -> dict[tuple[int, str], float]:
    """x of each edge's ends on its nodes, spread along the side so edges do not overlap.

    Edges leave a node's bottom and enter the next one's top; back edges go up, from their
    source's top to their target's bottom."""
    sides: dict[tuple[str, str], list[tuple[float, Edge, str]]] = defaultdict(list)
    for edge in placed.edges:
        if edge.is_loop:
            continue
        first = edge.waypoints[0][0] if edge.waypoints else placed.nodes[edge.target].x
        last = edge.waypoints[-1][0] if edge.waypoints else placed.nodes[edge.source].x
        sides[(edge.source, "top" if edge.back else "bottom")].append((first, edge, "out"))
        sides[(edge.target, "bottom" if edge.back else "top")].append((last, edge, "in"))
    ports = {}
    for (node_id, _), items in sides.items():
        node = placed.nodes[node_id]
        items.sort(key=lambda item: item[0])
        span = node.width * 0.5
        for i, (_, edge, end) in enumerate(items):
            offset = 0.0 if len(items) == 1 else -span / 2 + span * i / (len(items) - 1)
            ports[(id(edge), end)] = node.x + offset
    return ports


def _edge_group(
    edge: Edge, path: str, label_at: tuple[float, float] | None, anchor: str = "middle"
) -> str:
    kind = "reprompt" if edge.label == "low confidence" else "loop" if edge.back else "plain"
    classes = " ".join(["edge", f"edge-{kind}", "conditional" if edge.conditional else "direct"])
    parts = [element("path", d=path, marker_end=f"url(#arrow-{kind})")]
    if edge.label and label_at:
        parts.append(
            text(label_at[0], label_at[1], edge.label, class_="edge-label", text_anchor=anchor)
        )
    return element(
        "g",
        "".join(parts),
        class_=classes,
        data_source=edge.source,
        data_target=edge.target,
        data_label=edge.label or "",
    )


def _edge(edge: Edge, placed: Layout, ports: dict) -> str:
    """An edge through its waypoints, down to the next rank or, for a back edge, up."""
    source, target = placed.nodes[edge.source], placed.nodes[edge.target]
    down = -1 if edge.back else 1  # -1: a back edge climbs
    points = [
        (ports[(id(edge), "out")], source.y + down * NODE_HEIGHT / 2),
        *edge.waypoints,
        (ports[(id(edge), "in")], target.y - down * NODE_HEIGHT / 2),
    ]
    path = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        mid = (y1 - y0) / 2
        path += f" C{x0:.1f},{y0 + mid:.1f} {x1:.1f},{y1 - mid:.1f} {x1:.1f},{y1:.1f}"
    if edge.waypoints:
        x, y = edge.waypoints[len(edge.waypoints) // 2]
        if x >= source.x:
            return _edge_group(edge, path, (x + 10, y), anchor="start")
        return _edge_group(edge, path, (x - 10, y), anchor="end")
    (x0, y0), (x1, y1) = points[0], points[-1]
    return _edge_group(edge, path, ((x0 + x1) / 2, (y0 + y1) / 2 + 4))


def _loop(edge: Edge, node: Node) -> str:
    """A self-loop (re-prompt again) on the node's right side."""
    x, y = node.x + node.width / 2, node.y
    path = f"M{x:.1f},{y - 8:.1f} C{x + 46:.1f},{y - 34:.1f} {x + 46:.1f},{y + 34:.1f} {x + 2:.1f},{y + 8:.1f}"
    return _edge_group(edge, path, (x + 8, y + 32), anchor="start")

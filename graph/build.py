"""The DualChecker state machine, shaped like the paper's figure.

(calibrate ─▶) plan_batch ─Send×B─▶ label_record[ align → teach ─(low confidence)▶ reprompt … → finalize ]
    ▲                                   │
    │                                collect ─▶ train_student ─▶ check_student ─(borderline)▶ refine_template
    └───────────────────────────────────┴──────────────────────────────┴───────────────────────┘
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from dualchecker.agents.faults import BackendUnavailable
from dualchecker.graph import routing
from dualchecker.graph.config import MethodConfig
from dualchecker.graph.context import RunContext
from dualchecker.graph.nodes import LoopNodes, TeacherNodes
from dualchecker.graph.state import RecordOutput, RecordState, RunState


def build_teacher_graph(ctx: RunContext, *, own_checkpoints: bool = False) -> CompiledStateGraph:
    """One record: ContextAligner → Teacher → Teacher checker, with the re-prompt loop.

    Nodes that call the LLM are retried (with backoff) when the backend is unavailable. The
    subgraph keeps no checkpoints of its own: a record interrupted half-way is redone from the
    start on resume, its finished calls answered by the LLM cache, and one record costs one
    checkpoint write instead of one per node.
    """
    nodes = TeacherNodes(ctx)
    checker = ctx.checker if ctx.method.teacher_checker else None
    retry = RetryPolicy(
        max_attempts=ctx.settings.node_retries, initial_interval=1.0, retry_on=BackendUnavailable
    )
    graph = StateGraph(RecordState, output_schema=RecordOutput)
    graph.add_node("align", nodes.align, retry_policy=retry)
    graph.add_node("teach", nodes.teach, retry_policy=retry)
    graph.add_node("reprompt", nodes.reprompt, retry_policy=retry)
    graph.add_node("finalize", nodes.finalize)
    graph.add_edge(START, "align")
    graph.add_edge("align", "teach")
    edges = {"low confidence": "reprompt", "accept": "finalize"}
    graph.add_conditional_edges("teach", routing.after_teacher(checker), edges)
    graph.add_conditional_edges("reprompt", routing.after_teacher(checker), edges)
    graph.add_edge("finalize", END)
    # `None` inherits the parent's checkpointer: only for drawing, since LangGraph's xray view
    # leaves out subgraphs compiled with checkpointer=False.
    return graph.compile(checkpointer=None if own_checkpoints else False)


def build_graph(
    ctx: RunContext, checkpointer: BaseCheckpointSaver | None = None, *, for_drawing: bool = False
) -> CompiledStateGraph:
    """The whole run: batches of records fan out to the teacher subgraph, then the student side."""
    loop = LoopNodes(ctx)
    graph = StateGraph(RunState)
    graph.add_node("plan_batch", loop.plan_batch)
    graph.add_node("label_record", build_teacher_graph(ctx, own_checkpoints=for_drawing))
    graph.add_node("collect", loop.collect)
    # spans are calibrated only against the pool tagger (neighbour_vote): alone, a quote's token
    # probability has no label distribution to correct
    spans = ctx.task is not None and ctx.task.is_spans
    if ctx.method.calibrate and (not spans or ctx.method.neighbour_vote):
        retry = RetryPolicy(
            max_attempts=ctx.settings.node_retries,
            initial_interval=1.0,
            retry_on=BackendUnavailable,
        )
        graph.add_node("calibrate", TeacherNodes(ctx).calibrate, retry_policy=retry)
        graph.add_edge(START, "calibrate")
        graph.add_edge("calibrate", "plan_batch")
    else:
        graph.add_edge(START, "plan_batch")
    graph.add_conditional_edges("plan_batch", routing.fan_out(ctx), ["label_record"])
    graph.add_edge("label_record", "collect")
    if ctx.student is None:
        graph.add_conditional_edges(
            "collect", routing.after_collect(ctx), {"next batch": "plan_batch", "done": END}
        )
    else:
        _add_student_side(graph, ctx)
    return graph.compile(checkpointer=checkpointer)


def _add_student_side(graph: StateGraph, ctx: RunContext) -> None:
    from dualchecker.graph.student_nodes import StudentNodes

    nodes = StudentNodes(ctx)
    graph.add_node("train_student", nodes.train_student)
    graph.add_node("check_student", nodes.check_student)
    feedback = "synthesise" if ctx.method.evokd else "refine_template"
    retry = RetryPolicy(
        max_attempts=ctx.settings.node_retries, initial_interval=1.0, retry_on=BackendUnavailable
    )
    graph.add_node(
        feedback,
        nodes.synthesise if ctx.method.evokd else nodes.refine_template,
        retry_policy=retry,
    )
    graph.add_edge("collect", "train_student")
    graph.add_edge("train_student", "check_student")
    graph.add_conditional_edges(
        "check_student",
        routing.after_student_check(ctx),
        {"borderline": feedback, "next batch": "plan_batch", "done": END},
    )
    graph.add_conditional_edges(
        feedback, routing.after_refine(ctx), {"next batch": "plan_batch", "done": END}
    )


def drawing_context(method: MethodConfig, *, student: bool) -> RunContext:
    """A context that carries only the method: enough for `build_graph` to lay out the graph
    (its shape depends on configuration alone), with no model, data or agent behind it."""
    from dualchecker.graph.config import RunSettings

    return RunContext(
        task=None,
        method=method,
        settings=RunSettings(),
        records={},
        order=[],
        teacher=None,
        checker=None,
        aligner=None,
        demonstrations=None,
        events=None,
        pool=[],
        store=None,
        student=object() if student else None,
    )


def draw_mermaid(method=None, *, student: bool = True) -> str:
    """The state machine as readable Mermaid text, subgraph included (no model or data is
    loaded); `method` defaults to the "dualchecker" preset."""
    from dualchecker.graph.config import method as preset

    method = method or preset("dualchecker")
    ctx = drawing_context(method, student=student and method.student)
    return readable_mermaid(build_graph(ctx, for_drawing=True).get_graph(xray=True).draw_mermaid())


def readable_mermaid(text: str) -> str:
    """LangGraph's Mermaid without its renderer front matter, escaped subgraph ids (``\\3a``)
    and ``&nbsp;`` padding, so the printed graph reads like the README's."""
    lines = text.strip().splitlines()
    if lines and lines[0].strip() == "---":
        end = lines.index("---", 1)
        lines = lines[end + 1 :]
    out = "\n".join(lines).replace("\\3a", "_").replace("&nbsp;", "")
    return out.replace("<p>__start__</p>", "start").replace("<p>__end__</p>", "end")

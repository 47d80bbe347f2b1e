"""A layered (Sugiyama) layout of small directed graphs such as the DualChecker graph, by grandalf.

grandalf ranks the nodes, turns cycles around (its inverted edges become our back edges), gives
long edges dummy waypoints and orders each rank to keep crossings down. Self-loops are left out
of its graph: the node gets room on its right and the drawing puts the loop there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grandalf.graphs import Edge as GEdge
from grandalf.graphs import Graph, Vertex
from grandalf.layouts import SugiyamaLayout, VertexViewer

NODE_HEIGHT = 38
RANK_GAP = 84
NODE_GAP = 40
LOOP_ROOM = 56
DUMMY_WIDTH = 40  # a long edge's waypoint: room for the line and a gap to the next


@dataclass
class Node:
    """A box to place: its width goes in, its rank and centre (x, y) come out."""

    id: str
    label: str
    width: float
    loop: bool = False
    rank: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def slot(self) -> float:
        """Room taken in its rank: the box, plus space on the right for a self-loop."""
        return self.width + (LOOP_ROOM if self.loop else 0)


@dataclass(eq=False)
class Edge:
    """An arrow between two nodes; the layout marks back edges and fills in the waypoints."""

    source: str
    target: str
    label: str | None = None
    conditional: bool = False
    back: bool = False
    waypoints: list[tuple[float, float]] = field(default_factory=list)

    @property
    def is_loop(self) -> bool:
        """True for a self-loop (a node back to itself)."""
        return self.source == self.target


@dataclass
class Layout:
    """The placed nodes, by id, and the edges with their waypoints."""

    nodes: dict[str, Node]
    edges: list[Edge]


class _Route:
    """An edge's view for grandalf, which hands it the points to draw through, ends included."""

    points: list[tuple[float, float]]

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = points


def layout(nodes: list[Node], edges: list[Edge], start: str) -> Layout:
    """Place `nodes` (x, y of their centres) and give each edge but self-loops its waypoints."""
    by_id = {n.id: n for n in nodes}
    for edge in edges:
        if edge.is_loop:
            by_id[edge.source].loop = True
    vertices = {n.id: Vertex(n) for n in nodes}
    for vertex in vertices.values():
        vertex.view = VertexViewer(vertex.data.slot, NODE_HEIGHT)
    links = {e: GEdge(vertices[e.source], vertices[e.target]) for e in edges if not e.is_loop}
    for link in links.values():
        link.view = _Route()
    shift = 0.0
    for part in Graph(list(vertices.values()), list(links.values())).C:  # side by side
        sugiyama = SugiyamaLayout(part)
        sugiyama.xspace, sugiyama.yspace = NODE_GAP, RANK_GAP - NODE_HEIGHT
        sugiyama.dw, sugiyama.dh = DUMMY_WIDTH, NODE_HEIGHT
        sugiyama.init_all(roots=[v for v in part.sV if v.data.id == start] or None)
        sugiyama.draw()
        dx = shift - min(v.view.xy[0] - v.view.w / 2 for v in part.sV)
        dy = -NODE_HEIGHT / 2  # rank 0 at y = 0
        for vertex in part.sV:
            (x, y), node = vertex.view.xy, vertex.data
            node.x = x + dx - (node.slot - node.width) / 2  # the box, then any loop room
            node.y, node.rank = y + dy, sugiyama.grx[vertex].rank
        for edge, link in links.items():
            if link in part.sE:
                edge.back = link in sugiyama.alt_e
                edge.waypoints = [(x + dx, y + dy) for x, y in link.view.points[1:-1]]
        shift = max(v.data.x - v.data.width / 2 + v.data.slot for v in part.sV) + NODE_GAP
    return Layout(by_id, edges)

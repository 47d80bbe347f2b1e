"""A layered (Sugiyama-style) layout for small directed graphs such as the DualChecker graph.

Back edges (loops to an earlier node, found by depth-first search from the start) are set aside
and drawn around the side; the rest are ranked by longest path, long edges get dummy waypoints,
and each rank is ordered by the barycentre of its neighbours to keep crossings down.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

RANK_GAP = 84
NODE_GAP = 40
DUMMY_WIDTH = 16
LOOP_ROOM = 56


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


def layout(nodes: list[Node], edges: list[Edge], start: str) -> Layout:
    """Place `nodes` (x, y of their centres) and give each forward edge its waypoints."""
    by_id = {n.id: n for n in nodes}
    for edge in edges:
        if edge.is_loop:
            by_id[edge.source].loop = True
    _mark_back_edges(nodes, edges, start)
    forward = [e for e in edges if not e.back and not e.is_loop]
    _rank(nodes, forward)
    ranks, chains = _with_dummies(nodes, forward)
    _order(ranks, chains)
    looping = {e.source for e in edges if e.back} | {e.target for e in edges if e.back}
    for rank in ranks:  # back edges run down the right-hand side: their ends go last in a rank
        rank.sort(key=lambda n: n.id in looping)
    positions = _place(ranks)
    for node in nodes:
        node.x, node.y = positions[node.id]
    for edge, chain in chains.items():
        edge.waypoints = [positions[d] for d in chain]
    return Layout(by_id, edges)


def _mark_back_edges(nodes: list[Node], edges: list[Edge], start: str) -> None:
    out: dict[str, list[Edge]] = defaultdict(list)
    for edge in edges:
        if not edge.is_loop:
            out[edge.source].append(edge)
    state: dict[str, str] = {}

    def visit(node: str) -> None:
        state[node] = "open"
        for edge in out[node]:
            if state.get(edge.target) == "open":
                edge.back = True
            elif edge.target not in state:
                visit(edge.target)
        state[node] = "done"

    for root in [start] + [n.id for n in nodes]:
        if root not in state:
            visit(root)


def _rank(nodes: list[Node], forward: list[Edge]) -> None:
    """Longest path from the sources, in topological order (Kahn)."""
    incoming: dict[str, int] = {n.id: 0 for n in nodes}
    out: dict[str, list[str]] = defaultdict(list)
    for edge in forward:
        incoming[edge.target] += 1
        out[edge.source].append(edge.target)
    rank = {n.id: 0 for n in nodes}
    ready = [n.id for n in nodes if incoming[n.id] == 0]
    while ready:
        node = ready.pop(0)
        for target in out[node]:
            rank[target] = max(rank[target], rank[node] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    for node in nodes:
        node.rank = rank[node.id]


def _with_dummies(nodes: list[Node], forward: list[Edge]) -> tuple[list[list[Node]], dict]:
    """Ranks as lists of nodes, with a dummy node wherever a forward edge skips a rank."""
    ranks: list[list[Node]] = [[] for _ in range(max(n.rank for n in nodes) + 1)]
    rank_of = {n.id: n.rank for n in nodes}
    for node in nodes:
        ranks[node.rank].append(node)
    chains: dict[Edge, list[str]] = {}
    for i, edge in enumerate(forward):
        chain = []
        for r in range(rank_of[edge.source] + 1, rank_of[edge.target]):
            dummy = Node(id=f"~{i}.{r}", label="", width=DUMMY_WIDTH, rank=r)
            ranks[r].append(dummy)
            chain.append(dummy.id)
        chains[edge] = chain
    return ranks, chains


def _neighbours(chains: dict, ranks: list[list[Node]]) -> tuple[dict, dict]:
    """Per node id: the ids one rank up and one rank down, following dummy chains."""
    up: dict[str, list[str]] = defaultdict(list)
    down: dict[str, list[str]] = defaultdict(list)
    for edge, chain in chains.items():
        path = [edge.source, *chain, edge.target]
        for a, b in zip(path, path[1:]):
            down[a].append(b)
            up[b].append(a)
    return up, down


def _order(ranks: list[list[Node]], chains: dict, sweeps: int = 4) -> None:
    """Reorder each rank by the mean position of its neighbours, sweeping down then up."""
    up, down = _neighbours(chains, ranks)

    def sort_by(rank: list[Node], adjacent: list[Node], links: dict) -> None:
        pos = {n.id: i for i, n in enumerate(adjacent)}
        current = {n.id: i for i, n in enumerate(rank)}

        def key(node: Node) -> float:
            near = [pos[m] for m in links[node.id] if m in pos]
            return sum(near) / len(near) if near else current[node.id]

        rank.sort(key=key)

    for _ in range(sweeps):
        for r in range(1, len(ranks)):
            sort_by(ranks[r], ranks[r - 1], up)
        for r in range(len(ranks) - 2, -1, -1):
            sort_by(ranks[r], ranks[r + 1], down)


def _place(ranks: list[list[Node]]) -> dict[str, tuple[float, float]]:
    """Centre each rank on x = 0; ranks are RANK_GAP apart."""
    positions = {}
    for r, rank in enumerate(ranks):
        total = sum(n.slot for n in rank) + NODE_GAP * (len(rank) - 1)
        x = -total / 2
        for node in rank:
            positions[node.id] = (x + node.width / 2, r * RANK_GAP)
            x += node.slot + NODE_GAP
    return positions

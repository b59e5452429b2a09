"""Lineage graphs: artifact versions, the runs that produced them and the runs that consumed them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from .errors import InvalidArgumentError

if TYPE_CHECKING:
    from .models import ArtifactVersion, LineageRecord, RepositoryLike


class LineageNode(BaseModel):
    """An artifact version or a run in a lineage graph."""

    id: str  # "project/key:N" for artifacts, "task-run/<id>" or "flow-run/<id>" for runs
    type: Literal["artifact", "run"]
    label: str
    kind: str | None = None  # artifact kind
    ref: str | None = None
    flow_name: str | None = None
    flow_run_id: str | None = None
    task_run_id: str | None = None


class LineageEdge(BaseModel):
    """Data flowing from ``source`` to ``target``: a run produced a version, or consumed one."""

    source: str  # data flows from source to target
    target: str
    relation: Literal["produced", "consumed"]


class Lineage(BaseModel):
    """The lineage graph of the version ``root``, walked ``up`` or ``down`` (``pa.lineage``)."""

    root: str
    direction: Literal["up", "down"]
    depth: int
    nodes: list[LineageNode] = Field(default_factory=list)
    edges: list[LineageEdge] = Field(default_factory=list)

    def node(self, node_id: str) -> LineageNode:
        return next(n for n in self.nodes if n.id == node_id)

    def artifacts(self) -> list[str]:
        return [n.id for n in self.nodes if n.type == "artifact"]


def walk_lineage(
    repo: RepositoryLike, start: ArtifactVersion, *, direction: str = "up", depth: int = 3
) -> Lineage:
    """Breadth-first from ``start``: up = producer runs and their inputs; down = consumer runs
    and their outputs. ``depth`` counts artifact hops (1 = the neighbouring artifacts)."""
    if direction not in ("up", "down"):
        raise InvalidArgumentError(f"direction must be 'up' or 'down', got {direction!r}")
    if not isinstance(depth, int) or depth < 0 or depth > 50:
        raise InvalidArgumentError(f"depth must be an integer from 0 to 50, got {depth!r}")
    way: Literal["up", "down"] = "up" if direction == "up" else "down"
    graph = Lineage(root=start.ref, direction=way, depth=depth)
    seen: dict[str, LineageNode] = {}
    edges: set[tuple[str, str, Literal["produced", "consumed"]]] = set()

    def add(node: LineageNode) -> None:
        if node.id not in seen:
            seen[node.id] = node
            graph.nodes.append(node)

    add(_artifact_node(start))
    frontier = [start]
    for hop in range(depth + 1):
        following: list[ArtifactVersion] = []
        for version in frontier:
            role = "producer" if direction == "up" else "consumer"
            for record in version.repository.runs_of(version, role=role):
                run = _run_node(record)
                add(run)
                if direction == "up":
                    edges.add((run.id, version.ref, "produced"))
                else:
                    edges.add((version.ref, run.id, "consumed"))
                if len(seen) > 2000 or hop == depth:
                    continue
                run_id = record.task_run_id or record.flow_run_id
                neighbours = (
                    repo.inputs_of_run(run_id) if direction == "up" else repo.outputs_of_run(run_id)
                )
                for other in neighbours:
                    if other.ref == version.ref:
                        continue
                    if direction == "up":
                        edges.add((other.ref, run.id, "consumed"))
                    else:
                        edges.add((run.id, other.ref, "produced"))
                    if other.ref not in seen:
                        add(_artifact_node(other))
                        following.append(other)
        frontier = following
        if not frontier:
            break
    order = {node_id: i for i, node_id in enumerate(seen)}  # breadth-first: nearest first
    ranked = sorted(edges, key=lambda e: (max(order[e[0]], order[e[1]]), e))
    graph.edges = [LineageEdge(source=s, target=t, relation=r) for s, t, r in ranked]
    return graph


def _artifact_node(version: ArtifactVersion) -> LineageNode:
    return LineageNode(
        id=version.ref,
        type="artifact",
        label=f"{version.key}:{version.version}",
        kind=version.kind,
        ref=version.ref,
        flow_name=version.producer.flow_name,
        flow_run_id=version.producer.flow_run_id,
        task_run_id=version.producer.task_run_id,
    )


def _run_node(record: LineageRecord | Any) -> LineageNode:
    if record.task_run_id:
        return LineageNode(
            id=f"task-run/{record.task_run_id}",
            type="run",
            label=record.task_run_name or record.task_run_id,
            flow_name=record.flow_name,
            flow_run_id=record.flow_run_id,
            task_run_id=record.task_run_id,
        )
    return LineageNode(
        id=f"flow-run/{record.flow_run_id}",
        type="run",
        label=f"{record.flow_name or 'flow'}/{record.flow_run_name or record.flow_run_id}",
        flow_name=record.flow_name,
        flow_run_id=record.flow_run_id,
    )

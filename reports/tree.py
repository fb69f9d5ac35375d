"""The process tree with injection edges: which process started which, and who acted on whom.

Processes are instances, not pids: a pid reused later is a new node, and a child hangs under the instance of its
parent pid that was started last before it. A pid named by a detection but never seen starting (System, a
process older than the capture) becomes a root of its own. Above `limit` nodes the tree keeps the processes the
detections name, their ancestors and the children of injected processes, and says how many it left out. The layout (rows, depth,
edge lanes) is computed here; the template only draws it.
"""

from __future__ import annotations

import ntpath
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

ROW, INDENT, CHAR, LANE = 22, 18, 7.3, 12  # px: row height, indent per level, monospace glyph width, edge lane
TWIN = timedelta(seconds=2)  # two sources' create rows of one process are this close (their clocks differ)


@dataclass(eq=False)  # identity: two instances of one pid are different processes
class Node:
    """One process instance."""

    host: str | None
    pid: int
    start: datetime | None = None
    image: str = ""
    cmd: str = ""
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    exited: datetime | None = None
    seen: bool = True  # False: known only because something names it
    role: str = ""  # actor, target, both (of a detection between two processes), flagged (one about itself)
    row: int = 0
    depth: int = 0


class Forest:
    """Process instances per (host, pid) in start order."""

    def __init__(self) -> None:
        self.by_pid: dict[tuple[str | None, int], list[Node]] = {}
        self.nodes: list[Node] = []

    def add(self, node: Node) -> Node:
        self.by_pid.setdefault((node.host, node.pid), []).append(node)
        self.nodes.append(node)
        return node

    def twin(self, r: dict[str, Any]) -> Node | None:
        """The instance a create row reports again (another source, within `TWIN` of it, not exited), if any."""
        found = self.by_pid.get((r["host"], r["pid"]))
        last = found[-1] if found else None
        if last is None or last.exited is not None or last.start is None or r["ts"] is None:
            return None
        return last if abs(r["ts"] - last.start) <= TWIN else None

    def at(self, host: str | None, pid: int, ts: datetime | None) -> Node:
        """The instance of `pid` alive at `ts` (the last started before it), made up if none was seen."""
        found = self.by_pid.get((host, pid), [])
        if found and ts is not None:
            starts = [n.start.timestamp() if n.start else float("-inf") for n in found]
            i = bisect_right(starts, ts.timestamp())
            if i:
                return found[i - 1]
        if found:
            return found[0]
        return self.add(Node(host, pid, seen=False))


def build(process_rows: list[dict[str, Any]], cards: list[dict[str, Any]], names: Callable[..., str],
          limit: int) -> dict[str, Any]:  # fmt: skip
    """Nodes in display order with their depth, injection edges between rows, and what was left out."""
    forest = Forest()
    for r in process_rows:
        if r["is_create"]:
            same = forest.twin(r)
            if same is not None:  # Sysmon 1 and Security 4688 of one creation: one process, facts merged
                same.image, same.cmd = same.image or r["image_path"] or "", same.cmd or r["command_line"] or ""
                continue
            node = forest.add(Node(r["host"], r["pid"], r["ts"], r["image_path"] or "", r["command_line"] or ""))
            if r["parent_pid"] is not None and r["parent_pid"] != r["pid"]:
                node.parent = forest.at(r["host"], r["parent_pid"], r["ts"])
                if node.parent is node:
                    node.parent = None
        else:
            forest.at(r["host"], r["pid"], r["ts"]).exited = r["ts"]
    edges: dict[tuple[int, int], dict[str, Any]] = {}
    for c in cards:
        if c["actor_pid"] is None:
            continue
        actor = forest.at(c["host"], c["actor_pid"], c["ts"])
        target = forest.at(c["host"], c["target_pid"], c["ts"]) if c["target_pid"] else actor
        if target is actor:  # a detection about the process itself (an odd ntdll, a registry write)
            actor.role = actor.role or "flagged"
            continue
        actor.role = "both" if actor.role in ("target", "both") else "actor"
        target.role = "both" if target.role in ("actor", "both") else "target"
        edge = edges.setdefault((id(actor), id(target)), {"from": actor, "to": target, "n": 0, "severity": 0,
                                                           "names": []})  # fmt: skip
        edge["n"] += 1
        edge["severity"] = max(edge["severity"], c["severity"] or 0)
        if c["name"] not in edge["names"]:
            edge["names"].append(c["name"])
    for node in forest.nodes:
        if node.parent is not None:
            node.parent.children.append(node)
    keep = _select(forest.nodes, limit)
    order: list[Node] = []
    for root in (n for n in forest.nodes if n.parent is None or n.parent not in keep):
        if root in keep:
            _walk(root, 0, keep, order)
    return _layout(order, [e for e in edges.values() if e["from"] in keep and e["to"] in keep],
                   len(forest.nodes) - len(order), names)  # fmt: skip


def _select(nodes: list[Node], limit: int) -> set[Node]:
    """All nodes, or the named ones with their ancestors, and the children of targets up to `limit`."""
    if len(nodes) <= limit:
        return set(nodes)
    keep: set[Node] = set()
    for node in (n for n in nodes if n.role):
        while node is not None and node not in keep:
            keep.add(node)
            node = node.parent
    for node in [n for n in nodes if n.role in ("target", "both")]:  # what an injected process went on to start
        for child in node.children:
            if len(keep) >= limit:
                break
            keep.add(child)
    return keep


def _walk(node: Node, depth: int, keep: set[Node], order: list[Node]) -> None:
    stack = [(node, depth)]
    while stack:
        n, d = stack.pop()
        n.depth, n.row = d, len(order)
        order.append(n)
        kids = sorted(
            (c for c in n.children if c in keep),
            key=lambda c: (c.start is None, c.start.timestamp() if c.start else 0.0, c.pid),
        )
        stack.extend((c, d + 1) for c in reversed(kids))  # popped in start order


def _layout(order: list[Node], edges: list[dict[str, Any]], hidden: int, names: Callable[..., str]) -> dict[str, Any]:
    labels = [_label(n, names) for n in order]
    text_right = max((n.depth * INDENT + 16 + len(t) * CHAR for n, t in zip(order, labels, strict=True)), default=200)
    gutter = text_right + 16
    drawn = []
    for lane, e in enumerate(sorted(edges, key=lambda e: (abs(e["to"].row - e["from"].row), e["from"].row))):
        x = gutter + 10 + lane * LANE
        y1, y2 = e["from"].row * ROW + ROW / 2, e["to"].row * ROW + ROW / 2
        drawn.append({"path": f"M {gutter:.0f} {y1:.0f} H {x:.0f} V {y2:.0f} H {gutter + 4:.0f}",
                      "severity": e["severity"], "n": e["n"],
                      "title": f"{names(e['from'].host, e['from'].pid)} -> {names(e['to'].host, e['to'].pid)}: "
                               f"{e['n']} detection{'s' if e['n'] != 1 else ''} ({', '.join(e['names'])})"})  # fmt: skip
    nodes = [{"x": n.depth * INDENT, "y": n.row * ROW, "label": t, "role": n.role, "seen": n.seen,
              "host": n.host, "pid": n.pid, "image": n.image, "cmd": n.cmd, "depth": n.depth,
              "start": "" if n.start is None else n.start.strftime("%H:%M:%S.%f")[:-3],
              "exited": "" if n.exited is None else n.exited.strftime("%H:%M:%S.%f")[:-3],
              "parent": n.parent.pid if n.parent else None}
             for n, t in zip(order, labels, strict=True)]  # fmt: skip
    return {"nodes": nodes, "edges": drawn, "hidden": hidden, "gutter": gutter,
            "width": gutter + 24 + len(edges) * LANE, "height": max(len(order), 1) * ROW + 4}  # fmt: skip


def _label(n: Node, names: Callable[..., str]) -> str:
    if n.image:
        return f"{ntpath.basename(n.image)} ({n.pid})"
    return names(n.host, n.pid) if n.seen else f"{names(n.host, n.pid)}, not seen starting"

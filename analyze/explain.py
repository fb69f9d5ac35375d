"""`swk analyze --explain ID`: one detection, its chain step by step, every evidence row decoded.

Masks, protections, region types and flags are named with `kernel/names.py`; for the mark chains each step shows
the marks its row added and the marks accumulated so far. Every captured string (paths, key paths, command lines,
module names, host names) goes through `for_terminal`.
"""

from __future__ import annotations

from typing import Any

import duckdb

from swk.errors import SwkError
from swk.kernel import names
from swk.kernel.abi import ControllerMark, HandleFlag, KernelMark
from swk.safe import for_terminal

_EVIDENCE_COLUMNS = (
    "event_id", "ts", "family", "kind", "host", "actor_pid", "target_pid", "tid", "access_mask", "class_id",
    "class_name", "flags", "is_thread_object", "frames", "start_address", "image_base", "image_size",
    "outside_main_image", "corr_flags", "corr_access_mask", "corr_age_ms", "start_region_protect",
    "start_region_state", "start_region_type", "image_path", "command_line", "operation", "key_path", "value_name",
    "detection_name", "severity", "reason", "event_name", "task", "base_address", "region_size", "protect",
    "old_protect", "creation_flags", "start_module", "start_function",
)  # fmt: skip


class NoSuchDetectionError(SwkError):
    """`--explain` named an id the case does not have."""

    hint = 'list the ids with --format jsonl, or: swk sql CASE "select id, name from detections"'


def _hex(value: int | None, width: int = 0) -> str:
    if value is None:
        return "-"
    return f"0x{value & 0xFFFFFFFFFFFFFFFF:0{width}X}"


def _bits(value: int, enum: type[Any]) -> str:
    found = [m.name for m in enum if m.value & value]
    return "|".join(found) if found else "<none>"


def _frames(frames: list[dict[str, Any]] | None) -> str:
    parts = []
    for f in frames or []:
        if f.get("module"):
            parts.append(f"{for_terminal(f['module'])}+0x{(f.get('offset') or 0):X}")
        else:
            parts.append(_hex(f.get("address")))
    return ", ".join(parts)


def describe(row: dict[str, Any]) -> list[str]:
    """The decoded facts of one evidence row, one line each (without the header line)."""
    fam = row["family"]
    out: list[str] = []
    if fam in ("handle", "apc"):
        mask = row["access_mask"]
        if mask is not None:
            named = names.thread_access_names(mask) if row.get("is_thread_object") or fam == "apc" else \
                names.access_names(mask)  # fmt: skip
            out.append(f"access {_hex(mask, 8)} {named}")
        if row["class_id"] is not None or row["class_name"]:
            out.append(f"class {row['class_id'] if row['class_id'] is not None else '-'} "
                       f"{for_terminal(row['class_name'] or '')}".rstrip())  # fmt: skip
        if row["flags"] is not None:
            out.append(f"flags {_hex(row['flags'], 8)} {_bits(row['flags'], HandleFlag)}")
    elif fam == "thread" and row.get("start_module") is not None:  # Sysmon 8: the start by module, not by region
        function = for_terminal(row.get("start_function") or "")
        out.append(f"start {_hex(row['start_address'])} in {for_terminal(row['start_module']) or 'no module'}"
                   + (f"!{function}" if function else ""))  # fmt: skip
    elif fam == "thread":
        out.append(f"start {_hex(row['start_address'])} image {_hex(row['image_base'])} size "
                   f"{_hex(row['image_size'])} outside-main-image {row['outside_main_image']}")  # fmt: skip
        if row["start_region_protect"] is not None:
            out.append(f"start region {names.protect_display(row['start_region_protect'])} "
                       f"{names.memory_type(row['start_region_type'] or 0)} "
                       f"{names.memory_state(row['start_region_state'] or 0)}")  # fmt: skip
        if row["corr_flags"] is not None:
            mask = row["corr_access_mask"]
            out.append(f"correlation {names.corr_names(row['corr_flags'])} mask {_hex(mask, 8)} "
                       f"{names.access_names(mask) if mask else ''} age {row['corr_age_ms']} ms")  # fmt: skip
    elif fam == "image":
        out.append(f"image {for_terminal(row['image_path'])} base {_hex(row['image_base'])}")
    elif fam == "registry":
        out.append(f"{for_terminal(row['operation'] or '')} {for_terminal(row['key_path'])} "
                   f"{for_terminal(row['value_name'] or '')}".strip())  # fmt: skip
    elif fam == "ti":
        out.append(f"{for_terminal(row['event_name'] or '')} task {row['task']} base {_hex(row['base_address'])} "
                   f"size {_hex(row['region_size'])}")  # fmt: skip
        if row["protect"] is not None:
            old = row["old_protect"]
            out.append(f"protect {names.protect_display(row['protect'])}"
                       + (f" from {names.protect_display(old)}" if old is not None else ""))  # fmt: skip
        if row["creation_flags"] is not None:
            out.append(f"creation flags {_hex(row['creation_flags'], 8)}")
    elif fam == "detection":
        out.append(f"live {for_terminal(row['detection_name'])} severity {row['severity']} "
                   f"{for_terminal(row['reason'] or '')}".rstrip())  # fmt: skip
    elif fam == "process":
        out.append(f"{for_terminal(row['image_path'] or '')} {for_terminal(row['command_line'] or '')}".strip())
    if row.get("frames"):
        out.append(f"frames {_frames(row['frames'])}")
    return out


def step_marks(con: duckdb.DuckDBPyConnection, det: dict[str, Any]) -> dict[int, int]:
    """The marks each evidence row added to the chain (mark-chain detections only)."""
    ids = det["evidence"]
    if det["rule"].startswith("KERNEL_PROCESS_HOLLOWING"):
        rows = con.execute("SELECT event_id, marks FROM thread_starts WHERE list_contains($ids, event_id)",
                           {"ids": ids}).fetchall()  # fmt: skip
    elif det["engine"] == "controller" and det["status"] != "live-only":
        rows = con.execute(  # mark_chain_steps is a table in an analysis; controller_steps would be recomputed
            "SELECT event_id, bit_or(marks) FROM mark_chain_steps WHERE engine = 'controller' AND host = $host"
            " AND key_actor = $actor AND key_target = $target AND list_contains($ids, event_id) GROUP BY event_id",
            {"ids": ids, "host": det["host"], "actor": det["actor_pid"], "target": det["target_pid"]},
        ).fetchall()
    else:
        return {}
    return dict(rows)


def explain(con: duckdb.DuckDBPyConnection, detection_id: int) -> list[str]:
    """The lines `swk analyze --explain` prints for one detection."""
    # The id first (no evidence is built), then that one detection's evidence: a filter on the evidence view's
    # keys reaches every rule view below it.
    rel = con.execute("SELECT * EXCLUDE (rule_order) FROM detection_ids WHERE id = $id", {"id": detection_id})
    cols = [d[0] for d in rel.description]
    found = rel.fetchall()
    if not found:
        raise NoSuchDetectionError(f"detection {detection_id}: no such id in this case")
    det = dict(zip(cols, found[0], strict=True))
    evidence = con.execute("SELECT evidence, first_ts, last_ts FROM evidence WHERE trigger_event_id = $t AND rule = $r",
                           {"t": det["trigger_event_id"], "r": det["rule"]}).fetchall()  # fmt: skip
    det["evidence"], det["first_ts"], det["last_ts"] = evidence[0] if evidence else (
        [det["trigger_event_id"]], det["ts"], det["ts"])  # fmt: skip
    facts = con.execute("SELECT confidence, derived_facts, actor_image, target_image, allowed_by FROM detection_facts "
                        "WHERE trigger_event_id = $t AND rule = $r",
                        {"t": det["trigger_event_id"], "r": det["rule"] or det["name"]}).fetchall()  # fmt: skip
    confidence, derived, actor_image, target_image, allowed_by = facts[0] if facts else (None, [], None, None, None)
    lines = [
        f"detection {det['id']}  {det['name']}  severity {det['severity']}  {det['engine']}  "
        f"{det['attack'] or ''}".rstrip(),
        f"  rule      {det['rule'] or '(not in the catalogue)'}",
        f"  host      {for_terminal(det['host'])}   actor {det['actor_pid']} -> target {det['target_pid']}",
        f"  time      {_iso(det['ts'])}   evidence {_iso(det['first_ts'])} .. {_iso(det['last_ts'])}",
        f"  status    {det['status']}" + (f" (live event {det['live_event_id']})" if det["live_event_id"] else ""),
    ]
    if actor_image or target_image:
        lines.append(f"  images    {for_terminal(actor_image or '?')} -> {for_terminal(target_image or '?')}")
    if confidence:
        lines.append(f"  confidence {confidence}" + (f" (derived: {', '.join(derived)})" if derived else ""))
    if allowed_by:
        lines.append(f"  allowed   by {for_terminal(allowed_by)} (allow-list: counted, not listed by default)")
    if det["reason"]:
        lines.append(f"  reason    {for_terminal(det['reason'])}")
    if det["corr_flags"] is not None or det["corr_access_mask"] is not None:
        mask = det["corr_access_mask"]
        lines.append(f"  corr      {names.corr_names(det['corr_flags'] or 0)} mask {_hex(mask, 8)} "
                     f"{names.access_names(mask) if mask else ''} age {det['corr_age_ms']} ms")  # fmt: skip
    if det["marks"] is not None:
        lines.append(f"  marks     {_hex(det['marks'])} {_bits(det['marks'], ControllerMark)}")
    if det["name"].startswith("DRIVER_DISPATCH_OR_OBJECT_TAMPER") and det["status"] == "live-only":
        lines.append("  note      not reconstructible: the driver emits no telemetry for its integrity checks")
    marks = step_marks(con, det)
    enum = KernelMark if det["rule"] and det["rule"].startswith("KERNEL_") else ControllerMark
    # The id range lets the Parquet reader skip row groups by their event_id statistics before testing the list.
    rel = con.execute(f"SELECT {', '.join(_EVIDENCE_COLUMNS)} FROM events WHERE event_id BETWEEN $lo AND $hi "
                      "AND list_contains($ids, event_id) ORDER BY ts, event_id",
                      {"ids": det["evidence"], "lo": min(det["evidence"]), "hi": max(det["evidence"])})  # fmt: skip
    cols = [d[0] for d in rel.description]
    lines += ["", f"chain, in time order ({len(det['evidence'])} evidence rows):"]
    accumulated = 0
    for n, values in enumerate(rel.fetchall(), 1):
        row = dict(zip(cols, values, strict=True))
        trigger = "  <- trigger" if row["event_id"] == det["trigger_event_id"] else ""
        lines.append(f"{n:>3}. {_iso(row['ts'])}  event {row['event_id']}  {row['family']}  "
                     f"{for_terminal(row['kind'] or '')}  {row['actor_pid']} -> {row['target_pid']}{trigger}")  # fmt: skip
        if row["event_id"] in marks:
            accumulated |= marks[row["event_id"]]
            lines.append(f"       marks +{_bits(marks[row['event_id']], enum)}  =>  {_bits(accumulated, enum)}")
        lines += [f"       {text}" for text in describe(row)]
    return lines


def _iso(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value is not None else "-"

"""Evidence rows as an analyst reads them: one sentence per step of a chain, and per-family columns with every
mask, protection, region and flag decoded by the driver's own spellings (`swk.kernel.names`, spec 4.1).

Everything returned is plain text: the templates escape it. Captured strings are never trusted to be markup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swk.kernel import names as kn
from swk.kernel.abi import ControllerMark, KernelMark

Row = dict[str, Any]
Names = Callable[[str | None, int | None], str]

TI_TASKS = {1: "ALLOCVM", 2: "PROTECTVM", 7: "WRITEVM"}


def hex64(value: int | None) -> str:
    """An address as 0x%016X (BIGINT storage keeps the two's-complement bits)."""
    return "" if value is None else f"0x{value & 0xFFFFFFFFFFFFFFFF:016X}"


def hex32(value: int | None) -> str:
    """A mask or size as 0x%X."""
    return "" if value is None else f"0x{value & 0xFFFFFFFF:X}"


def access(mask: int | None, thread_object: bool | None = False) -> str:
    """An access mask decoded (thread masks by the thread table) with its hex value."""
    if mask is None:
        return ""
    text = kn.thread_access_names(mask) if thread_object else kn.access_names(mask)
    return f"{text} ({hex32(mask)})"


def protect(value: int | None) -> str:
    """A protection as the ETW printer shows it: 0x00000040 (XRW)."""
    return "" if value is None else kn.protect_display(value)


def marks(value: int | None, engine: str | None) -> str:
    """Mark-chain marks by their names (controller marks for the controller's chains)."""
    if value is None:
        return ""
    table = ControllerMark if engine == "controller" else KernelMark
    return "|".join(m.name for m in table if value & m and m.name) or "<none>"


def frame(f: dict[str, Any]) -> str:
    """A stack frame as module+0xOFFSET, or its bare address when no module covers it."""
    if f.get("module"):
        offset = f.get("offset")
        return f"{f['module']}+0x{offset:X}" if offset is not None else str(f["module"])
    return f"{hex64(f.get('address'))} [unresolved]"


def _bool(value: bool | None, yes: str) -> str:
    return "" if value is None else (yes if value else f"not {yes}")


def _region(row: Row) -> str:
    parts = [protect(row.get("start_region_protect"))]
    if row.get("start_region_state") is not None:
        parts.append(kn.memory_state(row["start_region_state"]))
    if row.get("start_region_type") is not None:
        parts.append(kn.memory_type(row["start_region_type"]))
    return " ".join(p for p in parts if p)


def corr_text(row: Row) -> str:
    flags = row.get("corr_flags")
    if flags is None:
        return ""
    text = kn.corr_names(flags)
    if flags:
        text += f", access {access(row.get('corr_access_mask'))}, age {row.get('corr_age_ms')} ms"
    return text


def _handle_flags(row: Row) -> str:
    flags = row.get("flags")
    return "" if flags is None else "|".join(kn.flag_names(flags, kn.SUITE_HANDLE_FLAG_NAMES)) or "<none>"


def _ti_event(row: Row) -> str:
    task = TI_TASKS.get(row.get("task") or -1)
    return f"{row.get('event_name') or ''}{f' ({task})' if task else ''}"


# Per family: (column header, cell). Cells return text; an empty string renders as an empty cell.
COLUMNS: dict[str, list[tuple[str, Callable[[Row], str]]]] = {
    "handle": [
        ("access", lambda r: access(r.get("access_mask"), r.get("is_thread_object"))),
        (
            "object",
            lambda r: "" if r.get("is_thread_object") is None else ("thread" if r["is_thread_object"] else "process"),
        ),
        ("class", lambda r: r.get("class_name") or ("" if r.get("class_id") is None else str(r["class_id"]))),
        ("flags", _handle_flags),
        (
            "origin",
            lambda r: " ".join(
                x
                for x in (hex64(r.get("origin_address")), protect(r.get("origin_protect")), r.get("origin_path") or "")
                if x
            ),
        ),
        ("stack (innermost first)", lambda r: "\n".join(frame(f) for f in r.get("frames") or [])),
    ],
    "thread": [
        ("tid", lambda r: "" if r.get("tid") is None else str(r["tid"])),
        (
            "start",
            lambda r: " ".join(
                x
                for x in (hex64(r.get("start_address")), r.get("start_module") or "", r.get("start_function") or "")
                if x
            ),
        ),
        ("start region", _region),
        (
            "main image",
            lambda r: "" if r.get("image_base") is None else f"{hex64(r['image_base'])} +{hex32(r.get('image_size'))}",
        ),
        ("outside image", lambda r: _bool(r.get("outside_main_image"), "outside")),
        ("correlated intent", corr_text),
    ],
    "apc": [
        ("class", lambda r: r.get("class_name") or ""),
        ("access", lambda r: access(r.get("access_mask"), True)),
        ("duplicate", lambda r: _bool(r.get("is_duplicate"), "duplicate")),
    ],
    "ti": [
        ("event", _ti_event),
        ("base", lambda r: hex64(r.get("base_address"))),
        ("size", lambda r: hex32(r.get("region_size"))),
        ("protect", lambda r: protect(r.get("protect"))),
        ("old protect", lambda r: protect(r.get("old_protect"))),
        ("creation flags", lambda r: hex32(r.get("creation_flags"))),
    ],
    "image": [
        ("image", lambda r: r.get("image_path") or ""),
        ("base", lambda r: hex64(r.get("image_base"))),
        ("size", lambda r: hex32(r.get("image_size"))),
        ("kernel mode", lambda r: _bool(r.get("is_system_mode"), "kernel")),
    ],
    "registry": [
        ("operation", lambda r: r.get("operation") or ""),
        ("key", lambda r: r.get("key_path") or ""),
        ("value", lambda r: r.get("value_name") or ""),
        ("data", lambda r: r.get("value_data") or ""),
    ],
    "process": [
        ("image", lambda r: r.get("image_path") or ""),
        ("command line", lambda r: r.get("command_line") or ""),
        ("parent", lambda r: "" if r.get("parent_pid") is None else str(r["parent_pid"])),
    ],
    "detection": [
        ("raised", lambda r: r.get("detection_name") or ""),
        ("severity", lambda r: "" if r.get("severity") is None else str(r["severity"])),
        ("reason", lambda r: r.get("reason") or ""),
        ("correlation", corr_text),
    ],
}
GENERIC = [("event", lambda r: r.get("event_name") or ""), ("fields", lambda r: r.get("fields_json") or "")]


def step(row: Row, name: Names) -> str:
    """The one sentence a chain step tells (`name(host, pid)` gives `image (pid)`)."""
    host, fam = row.get("host"), row.get("family")
    actor, target = name(host, row.get("actor_pid")), name(host, row.get("target_pid"))
    if fam == "handle":
        what = "a thread of " if row.get("is_thread_object") else ""
        how = f" via {row['class_name']}" if row.get("class_name") else ""
        return f"{actor} opened {what}{target} for {access(row.get('access_mask'), row.get('is_thread_object'))}{how}"
    if fam == "thread":
        where = _region(row) or "an unknown region"
        out = ", outside the main image" if row.get("outside_main_image") else ""
        corr = f"; correlated intent {corr_text(row)}" if row.get("corr_flags") else ""
        return f"{actor} started thread {row.get('tid')} in {target} at {hex64(row.get('start_address'))} ({where}{out}){corr}"
    if fam == "apc":
        return f"{actor} {row.get('class_name') or 'APC intent'} on {target} ({access(row.get('access_mask'), True)})"
    if fam == "ti":
        task, base, size = row.get("task"), hex64(row.get("base_address")), hex32(row.get("region_size"))
        if task == 1:
            return f"{actor} allocated {size} {protect(row.get('protect'))} at {base} in {target}"
        if task == 7:
            return f"{actor} wrote {size} bytes at {base} in {target}"
        if task == 2:
            return (
                f"{actor} made {base} in {target} {protect(row.get('protect'))} (was {protect(row.get('old_protect'))})"
            )
        flags = row.get("creation_flags")
        suspended = " suspended" if flags is not None and flags & 0x4 else ""
        return f"{actor}: {row.get('event_name') or 'TI event'} on {target}{suspended}"
    if fam == "image":
        return f"{target} mapped {row.get('image_path') or '?'}"
    if fam == "registry":
        value = f"\\{row['value_name']}" if row.get("value_name") else ""
        data = f" = {row['value_data']}" if row.get("value_data") else ""
        return f"{actor} {row.get('operation') or 'touched'} {row.get('key_path') or '?'}{value}{data}"
    if fam == "process":
        return f"{actor} created {target}: {row.get('command_line') or row.get('image_path') or '?'}"
    if fam == "detection":
        return f"the driver raised {row.get('detection_name')} (severity {row.get('severity')}) for {actor} -> {target}"
    return f"{row.get('kind') or fam}: {row.get('event_name') or ''}"


def columns(family: str) -> list[tuple[str, Callable[[Row], str]]]:
    """The decoded columns of a family's evidence table."""
    return COLUMNS.get(family, GENERIC)

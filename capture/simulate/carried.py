"""What each Sleepwalker output format carries of a simulated run: the one table, for rows and for detections.

`swk simulate` writes a run in every format (`swk.capture.outputs.WRITERS`) and the readers give rows back. For each
format and kind of row, `CARRIED` says which columns equal the simulated row's (`same`), which follow from it by a
stated rule (`rule`, see `RULES`), which are the format's own text that the case does not hold (`own`), and why
the rest is not carried (`gone`). Every other column of a read-back row must be NULL, so a reader that starts or
stops filling a column changes this table or fails `tests/test_roundtrip_formats.py`. `REBUILT` says the same of
detections: the rules `swk analyze` cannot rebuild from a format's rows, and why. `docs/formats.md` renders both.

Row kinds ("what"): `record:handle`/`record:thread` are IOCTL records (matched to the case by `sequence`); the
others are ETW events of that family, `controller` the controller's synthetic detections, `ti` Threat-Intelligence
events (matched in order). Spec sections are those of `shared/spec/sleepwalker.md`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from swk.capture.text.render import CONTROLLER_KIND
from swk.kernel.catalogue import BY_RULE
from swk.kernel.clock import FILETIME_UNIX_EPOCH
from swk.store.schema import EVENTS

Row = dict[str, Any]
MASK32 = 0xFFFFFFFF
# Filled by every reader and the writer, never compared: where the row came from (`host` is compared).
BOOKKEEPING = frozenset({"event_id", "source_format", "source_file", "source_offset"})


def _us(ts: datetime) -> int:
    return int(ts.timestamp()) * 1_000_000 + ts.microsecond


def _ms(ts: datetime | None) -> datetime | None:
    return None if ts is None else ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def _primary(s: Row, column: str) -> int | None:
    value = s[column]
    return value if value is not None and 1 <= value <= MASK32 else (s["header_pid"] or 0) & MASK32


def _flag_names(s: Row, f: Row) -> bool:
    printed = json.loads(f["fields_json"] or "{}")
    shown = printed.get("flags") == s["flags"] & printed.get("flagsMask", 0)
    return shown and f["flags"] == (0 if s["flags"] == 0 else None)


def _superset(s: Row, f: Row) -> bool:
    kept, read = json.loads(s["fields_json"] or "{}"), json.loads(f["fields_json"] or "{}")
    return all(read.get(k) == v for k, v in kept.items())


# name -> (what it says, whether the read-back value `f[column]` follows from the simulated row `s`)
RULES: dict[str, tuple[str, Callable[[Row, Row, str], bool]]] = {
    "record-kind": ("`sleepwalker:ioctl:<family>`", lambda s, f, c: f[c] == f"sleepwalker:ioctl:{s['family']}"),
    "ms": ("the client's write time: the event's, cut to the millisecond (5; the simulated client writes at once)",
           lambda s, f, c: f[c] == _ms(s["ts"])),
    "client-us": ("Unix µs of that millisecond", lambda s, f, c: f[c] == _us(_ms(s["ts"]))),  # type: ignore[arg-type]
    "client-write": ("`client-write`", lambda s, f, c: f[c] == "client-write"),
    "filetime": ("`ts` as a FILETIME (2.4)", lambda s, f, c: f[c] == _us(s["ts"]) * 10 + FILETIME_UNIX_EPOCH),
    "filetime-clock": ("`filetime`", lambda s, f, c: f[c] == "filetime"),
    "addresses": ("the same frame addresses (module and offset are the printer's symbol text)",
                  lambda s, f, c: [x["address"] for x in f[c] or ()] == [x["address"] for x in s[c] or ()]),
    "flag-names": ("Flags printed by name, some bits never (4.2: from 0x200; 4.3: Deep*): the value only when 0, "
                   "the printed bits and their mask in fields_json", lambda s, f, c: _flag_names(s, f)),
    "primary": ("PrimaryPid: the pid, or the event's header pid where it is 0 or above 32 bits (4.6, 7.4)",
                lambda s, f, c: f[c] == _primary(s, c)),
    "secondary": ("SecondaryPid: the pid where it is 1..0xFFFFFFFF, else 0 (4.6)",
                  lambda s, f, c: f[c] == (s[c] if s[c] is not None and 1 <= s[c] <= MASK32 else 0)),
    "zero": ("printed as 0 where the event has none (4.5, 5; spec 2.1: Sleepwalker events have task, opcode and "
             "version 0)", lambda s, f, c: f[c] == (s[c] or 0)),
    "level": ("printed level: 4 for a Sleepwalker event (2.1)", lambda s, f, c: f[c] == (4 if s[c] is None else s[c])),
    "class-kept": ("the kernel class, or NULL where the printed class may be the printer's upgrade of UNKNOWN "
                   "(4.4 [Q])", lambda s, f, c: f[c] is None or f[c] == s[c]),
    "stock": ("the stock event of the row's task where the manifest has no such event (3.11 [AMB]: the .etl names "
              "events by descriptor)", lambda s, f, c: f[c] == s[c] or (s["etw_event_id"] is None
                                                                     and f["etw_event_id"] is not None)),
    "superset": ("every field the case holds, next to the template's others", lambda s, f, c: _superset(s, f)),
    "stock-zero": ("0 where the row went out as its task's stock event and the stock template has a field the row "
                   "lacks (the .etl must hold a value, 3.11 [AMB])", lambda s, f, c: f[c] == s[c] or (
                       s[c] is None and f[c] == 0 and f["event_name"] != s["event_name"])),
}  # fmt: skip


@dataclass(frozen=True)
class Carried:
    """What one format keeps of one kind of row."""

    same: str  # columns equal to the simulated row's
    gone: str  # why the columns the simulated row has and this format lacks are not carried
    rule: dict[str, str] = field(default_factory=dict)  # column -> RULES name
    own: str = ""  # the format's own columns (printed text the case does not hold): not compared
    only: str = ""  # which of the case's rows it holds, when not all (a KEEPS name)
    extra: bool = False  # rows of the format's own, not events of the case (not matched)

    def columns(self) -> set[str]:
        """Every column this entry accounts for."""
        return set(self.same.split()) | set(self.rule) | set(self.own.split())


def _severity(s: Row) -> int:
    """The severity of the client's JSONL line for a case row (`swk.capture.text.jsonl_write`)."""
    if s["family"] == "handle":
        return 4 if s["class_id"] == 2 else 2
    if s["family"] == "detection":
        return s["severity"] if s["severity"] is not None and 1 <= s["severity"] <= 10 else 4
    return 1  # thread records (1 or 3) and every other broker event line


# Which of the case's rows a format holds, where it holds only some of a kind.
KEEPS: dict[str, tuple[str, Callable[[Row], bool]]] = {
    "stock-task": ("events of a stock task (the .etl cannot name the others, 3.11 [AMB])",
                   lambda s: s["etw_event_id"] is not None or s["task"] in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)),
    "high-priority": ("lines of severity >= 4 (5: the policy's default minimum): DIRECT-class handle records and "
                      "detections of severity >= 4", lambda s: _severity(s) >= 4),
}  # fmt: skip

_ETW = "ts family kind header_pid header_tid provider event_name "
_ETW_RULES = {"raw_clock": "filetime", "clock": "filetime-clock"}
_PRINTED = {**_ETW_RULES, "level": "level", "opcode": "zero", "etw_version": "zero"}
_CLIENT = {"ts": "ms", "raw_clock": "client-us", "clock": "client-write"}
_UPLINK = {**_CLIENT, "task": "zero", "opcode": "zero"}
_HANDLE = ("actor_pid target_pid access_mask origin_address origin_protect origin_path exec_protect from_ntdll from_exe "
           "frame_count status_open_process status_basic_info status_section_name ")  # fmt: skip
_DEEP = "deep_alloc_base deep_region_size deep_region_protect deep_region_state deep_region_type deep_sample_size "
_THREAD = ("actor_pid target_pid tid frame_count start_address image_base image_size got_start got_range is_remote "
           "outside_main_image corr_flags ")  # fmt: skip
_REGION = "corr_access_mask corr_age_ms start_region_protect start_region_state start_region_type start_region_status "
_PROCESS = ("actor_pid target_pid is_create create_status parent_pid creator_pid creator_tid process_start_key "
            "session_id image_path command_line")  # fmt: skip
_IMAGE = ("actor_pid target_pid image_base image_size image_path is_system_mode is_signature_level_known "
          "signature_level signature_type")  # fmt: skip
_REGISTRY = "actor_pid session_id operation notify_class data_type data_size is_high_value key_path value_name"
_DETECTION = "actor_pid target_pid detection_name severity reason corr_flags corr_access_mask corr_age_ms"
_TI_IDS = "actor_pid target_pid tid task opcode level"
_TI_VALUES = "base_address region_size protect old_protect creation_flags"
_NOT_ETW = "header pid/tid, provider, event name: a record is no ETW event (1.3)"
_NO_TIME = "no time (4.2, 4.6, 4.8)"
_IOCTL_HANDLE = ("ts raw_clock clock family sequence class_id flags stream_mask " + _HANDLE + _DEEP
                 + "deep_sample frames is_thread_object is_duplicate")  # fmt: skip
_IOCTL_THREAD = "ts raw_clock clock family sequence flags stream_mask frames start_region_exec " + _THREAD
_RECORD = {"kind": "record-kind"}

CARRIED: dict[tuple[str, str], Carried] = {
    ("ioctl", "record:handle"): Carried(_IOCTL_HANDLE, f"class string: the record has ClassId only; {_NOT_ETW}",
                                        _RECORD),
    ("ioctl", "record:thread"): Carried(_IOCTL_THREAD, "correlation mask and age, start region: ThreadTelemetry "
                                        f"fields only (1.3, 2.2); {_NOT_ETW}", _RECORD),
    ("suite", "record:handle"): Carried(
        "ts raw_clock clock family sequence stream_mask class_id is_thread_object is_duplicate " + _HANDLE,
        f"deep fields: the suite prints none (4.3); {_NOT_ETW}", {**_RECORD, "frames": "addresses",
                                                                  "flags": "flag-names"},
        own="class_name fields_json"),
    ("suite", "record:thread"): Carried("ts raw_clock clock family sequence flags stream_mask start_region_exec "
                                        + _THREAD, f"as the IOCTL record; {_NOT_ETW}", {**_RECORD,
                                                                                        "frames": "addresses"}),
    ("console", "record:handle"): Carried(
        "family sequence is_thread_object is_duplicate " + _HANDLE + _DEEP,
        f"{_NO_TIME}; class id: the printed class is the client's recomputation (4.2 [Q]); stream mask; the deep "
        f"sample (entropy and 16 bytes only); {_NOT_ETW}", {**_RECORD, "frames": "addresses", "flags": "flag-names"},
        own="class_name fields_json"),
    ("console", "record:thread"): Carried("family sequence flags start_region_exec " + _THREAD,
                                          f"{_NO_TIME}; stream mask; {_NOT_ETW}", {**_RECORD, "frames": "addresses"}),
    ("console", "detection"): Carried("family kind provider event_name detection_name severity",
                                      f"{_NO_TIME}; reason and correlation: the uplink line has none (4.6)",
                                      {"actor_pid": "primary", "target_pid": "secondary"}),
    ("console", "controller"): Carried("family kind event_name detection_name severity actor_pid target_pid",
                                       f"{_NO_TIME}; marks (4.6)"),
    ("console", "ti"): Carried("family kind provider event_name task", f"{_NO_TIME}; target (the uplink's "
                               "SecondaryPid is 0, 7.4), addresses, sizes, protections (4.6)", {"actor_pid": "primary"}),
    ("jsonl", "record:handle"): Carried(
        "family sequence actor_pid target_pid access_mask class_id flags origin_address exec_protect from_ntdll "
        "from_exe is_thread_object is_duplicate", f"protection, path, status, deep fields, frames (5); {_NOT_ETW}",
        {**_CLIENT, **_RECORD}),
    ("jsonl", "record:thread"): Carried(
        "family sequence actor_pid target_pid tid flags start_address image_base got_start got_range is_remote "
        "outside_main_image corr_flags start_region_exec", f"image size, frames (5); {_NOT_ETW}",
        {**_CLIENT, **_RECORD}),
    ("jsonl", "handle"): Carried("family kind provider event_name", "every field but the pids (5: event, task, "
                                 "opcode)", {**_UPLINK, "actor_pid": "primary", "target_pid": "secondary"}),
    ("jsonl", "apc"): Carried("family kind provider event_name", "class, access, correlation (5)",
                              {**_UPLINK, "actor_pid": "primary", "target_pid": "secondary"}),
    ("jsonl", "thread"): Carried("family kind provider event_name", "creator (the uplink's pid is the thread's "
                                 "process, 7.4) and every field (5)", {**_UPLINK, "target_pid": "primary"}),
    ("jsonl", "process"): Carried("family kind provider event_name", "every field but the process id (5, 7.4)",
                                  {**_UPLINK, "target_pid": "primary"}),
    ("jsonl", "image"): Carried("family kind provider event_name", "path, base, size, signature (5)",
                                {**_UPLINK, "actor_pid": "primary", "target_pid": "primary"}),
    ("jsonl", "registry"): Carried("family kind provider event_name", "key path, value, operation (5)",
                                   {**_UPLINK, "actor_pid": "primary"}),
    ("jsonl", "detection"): Carried("family kind provider event_name detection_name severity",
                                    "reason and correlation (5)", {**_CLIENT, "actor_pid": "primary",
                                                                   "target_pid": "secondary"}),
    ("jsonl", "controller"): Carried("family kind event_name detection_name severity actor_pid target_pid",
                                     "marks (5)", _CLIENT),
    ("jsonl", "ti"): Carried("family kind provider event_name task opcode", "target (SecondaryPid 0, 7.4), "
                             "addresses, sizes, protections, creation flags (5)", {**_CLIENT, "actor_pid": "primary"}),
    ("jsonl_high_priority", "record:handle"): Carried(
        "family sequence actor_pid target_pid access_mask class_id flags origin_address exec_protect from_ntdll "
        "from_exe is_thread_object is_duplicate", "as the JSONL log", {**_CLIENT, **_RECORD}, only="high-priority"),
    ("jsonl_high_priority", "detection"): Carried("family kind provider event_name detection_name severity",
                                                  "as the JSONL log", {**_CLIENT, "actor_pid": "primary",
                                                                       "target_pid": "secondary"},
                                                  only="high-priority"),
    ("jsonl_high_priority", "controller"): Carried("family kind event_name detection_name severity actor_pid "
                                                   "target_pid", "as the JSONL log", _CLIENT, only="high-priority"),
    ("etl", "handle"): Carried(_ETW + "class_id class_name frames deep_sample " + _HANDLE + _DEEP,
                               "sequence, flags, thread-object and duplicate bits: IOCTL record only (2.2 [Q])",
                               _ETW_RULES),
    ("etl", "thread"): Carried(_ETW + "frames start_region_exec " + _THREAD + _REGION, "sequence, flags: IOCTL record "
                               "only", _ETW_RULES),
    ("etl", "apc"): Carried(_ETW + "actor_pid target_pid access_mask class_name is_duplicate corr_flags "
                            "corr_access_mask corr_age_ms", "-", _ETW_RULES),
    ("etl", "process"): Carried(_ETW + _PROCESS, "-", _ETW_RULES),
    ("etl", "image"): Carried(_ETW + _IMAGE, "-", _ETW_RULES),
    ("etl", "registry"): Carried(_ETW + _REGISTRY, "-", _ETW_RULES),
    ("etl", "detection"): Carried(_ETW + _DETECTION, "-", _ETW_RULES),
    ("etl", "ti"): Carried("ts family header_pid header_tid provider " + _TI_IDS, "-", {**_ETW_RULES, "kind": "stock", "event_name": "stock", "etw_event_id": "stock",
                                      "etw_version": "stock", "keyword": "stock", "fields_json": "superset",
                                      **dict.fromkeys(_TI_VALUES.split(), "stock-zero")}, only="stock-task"),
    ("etl", "generic"): Carried("", "the trace's own header record, no event of the case", extra=True),
    ("printer", "handle"): Carried(_ETW + _HANDLE + _DEEP, "sequence, flags, thread-object and duplicate bits (2.2 "
                                   "[Q]); the deep sample (entropy and 16 bytes, 4.5)",
                                   {**_PRINTED, "frames": "addresses", "class_id": "class-kept"},
                                   own="class_name actor_image target_image fields_json"),
    ("printer", "thread"): Carried(_ETW + "start_region_exec " + _THREAD + _REGION, "sequence, flags",
                                   {**_PRINTED, "frames": "addresses"}, own="actor_image target_image"),
    ("printer", "apc"): Carried(_ETW, "every field: ApcTelemetry has no formatter (4.5)", _PRINTED),
    ("printer", "process"): Carried(_ETW + _PROCESS, "-", _PRINTED),
    ("printer", "image"): Carried(_ETW + _IMAGE, "-", _PRINTED, own="actor_image"),
    ("printer", "registry"): Carried(_ETW + _REGISTRY, "-", _PRINTED, own="actor_image"),
    ("printer", "registry+counted"): Carried(
        "family kind provider event_name " + _REGISTRY, "time, header pid/tid: an OPEN_KEY counted in a "
        "`(+N similar suppressed)` line, not printed (4.5)", own="actor_image"),
    ("printer", "detection"): Carried(_ETW + _DETECTION, "-", _PRINTED, own="actor_image target_image"),
    ("printer", "ti"): Carried(_ETW + "opcode level", "pids and tid: 4-byte fields print as 0 (4.5 [Q]); task, "
                               "addresses, sizes, protections, fields", {**_ETW_RULES, "etw_version": "zero"},
                               own="actor_image target_image"),
    ("controller", "controller"): Carried("family kind actor_pid target_pid detection_name severity marks",
                                          f"{_NO_TIME}; event name, provider, header, reason: the log line is "
                                          "`[ETW][SYNTH] detection= severity= actor= target= marks=` (4.8)"),
}  # fmt: skip


def what(row: Row) -> str:
    """The kind of row a case or read-back row is, as `CARRIED` names it."""
    kind = row["kind"] or ""
    if kind.startswith("sleepwalker:ioctl:"):
        return f"record:{row['family']}"
    if kind == CONTROLLER_KIND:
        return "controller"
    if row["family"] == "registry" and row["ts"] is None and row.get("source_format") == "printer":
        return "registry+counted"
    return row["family"]


def is_record(row: Row) -> bool:
    """A case row the driver also published as an IOCTL record."""
    return row["family"] in ("handle", "thread") and row["sequence"] is not None


def formats() -> list[str]:
    """The formats `CARRIED` describes, in table order."""
    return list(dict.fromkeys(fmt for fmt, _ in CARRIED))


def pairs(fmt: str, case: list[Row], back: list[Row]) -> tuple[list[tuple[str, Row, Row]], list[str]]:
    """(kind, case row, read-back row) of every row the format holds, and what did not line up.

    Records are matched by `sequence`; everything else in order (case rows by `event_id`, read-back rows in file
    order, which their event ids follow).
    """
    table = {w: c for (f, w), c in CARRIED.items() if f == fmt}

    def held(s: Row, kind: str) -> bool:
        return kind in table and (not table[kind].only or KEEPS[table[kind].only][1](s))

    records = {s["sequence"]: s for s in case if is_record(s) and held(s, f"record:{s['family']}")}
    events = [s for s in case if held(s, what(s))]
    out, problems, stream = [], [], []
    for f in sorted(back, key=lambda r: r["event_id"]):
        kind = what(f)
        if kind not in table:
            problems.append(f"{fmt}: a {kind} row the table does not list (event {f['event_id']})")
        elif kind.startswith("record:"):
            s = records.pop(f["sequence"], None)
            if s is None or f"record:{s['family']}" != kind:
                problems.append(f"{fmt}: record seq={f['sequence']} is not a {kind} of the case")
            else:
                out.append((kind, s, f))
        elif not table[kind].extra:
            stream.append(f)
    problems += [f"{fmt}: record seq={seq} was not read back" for seq in sorted(records)]
    if len(stream) != len(events):
        problems.append(f"{fmt}: {len(stream)} events read back, the case has {len(events)}")
    for s, f in zip(events, stream, strict=False):
        if what(f).split("+")[0] != what(s):
            problems.append(f"{fmt}: event {f['event_id']} is a {what(f)}, case event {s['event_id']} a {what(s)}")
            break
        out.append((what(f), s, f))
    return out, problems


def compare(fmt: str, matched: list[tuple[str, Row, Row]], columns: list[str]) -> dict[tuple[str, str], str]:
    """(kind, column) -> the first differing (case, read-back) values, over every column but the bookkeeping."""
    found: dict[tuple[str, str], str] = {}
    for kind, s, f in matched:
        entry = CARRIED[fmt, kind]
        same, own = set(entry.same.split()) | {"host"}, set(entry.own.split())
        for c in columns:
            if c in BOOKKEEPING or c in own or (kind, c) in found:
                continue
            if c in same:
                ok = f[c] == s[c]
            elif c in entry.rule:
                ok = RULES[entry.rule[c]][1](s, f, c)
            else:
                ok = f[c] is None
            if not ok:
                found[kind, c] = f"case event {s['event_id']}: {s[c]!r:.80} -> read back {f[c]!r:.80}"
    return found


@dataclass(frozen=True)
class Rebuilt:
    """What `swk analyze` rebuilds from one format's case, next to the simulated case's detections."""

    time: str  # what the rows' `ts` is
    lost: dict[str, str]  # rule -> why it cannot be rebuilt ("*": every rule but `kept`)
    reconciled: bool = False  # live detections carry a time precise enough to compare statuses and live-only rows
    blind: dict[str, str] = field(default_factory=dict)  # detection column -> why it is not compared
    live_blind: dict[str, str] = field(default_factory=dict)  # the same, on live-only rows alone
    ms: bool = False  # times compared at the millisecond
    kept: tuple[str, ...] = ()  # with "*": the rules rebuilt all the same

    def lost_rules(self) -> set[str]:
        """The catalogue's rules this format cannot rebuild."""
        return set(BY_RULE) - set(self.kept) if "*" in self.lost else set(self.lost)


_NO_APC_ROWS = "no ApcTelemetry: route B from the thread-handle records, whose evidence is the record alone (2)"
_NO_REGION = "no start-region type or protection: no NON_IMAGE_EXEC fact (1.3)"
_CONTROLLER = "the controller's chain reads ETW thread rows and TI events (9), which records are not"
_RECORD_CORR = {"corr_access_mask": "records carry the correlation flags only (1.3)",
                "corr_age_ms": "records carry the correlation flags only (1.3)"}  # fmt: skip
_RECORDS_ONLY = {
    "REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION": _NO_REGION,
    "REMOTE_APC_CREATION_SUSPECT": _NO_APC_ROWS, "THREAD_HIJACK_INTENT/apc": _NO_APC_ROWS,
    "SUSPICIOUS_NTDLL_IMAGE_PATH": "no image events", "MULTIPLE_NTDLL_IMAGE_MAPPINGS": "no image events",
    "HIGH_VALUE_REGISTRY_ACTIVITY": "no registry events",
    "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM": _CONTROLLER, "PROCESS_HOLLOWING_MARK_CHAIN_STRONG": _CONTROLLER,
    "PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN": _CONTROLLER,
}  # fmt: skip
_NO_FLAGS = "HandleTelemetry carries no Flags (2.2 [Q]): no stack-integrity facts"
_UPLINK_ONLY = "the uplink line carries no {} (5)"
_JSONL = {
    "REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION": _RECORDS_ONLY["REMOTE_THREAD_START_IN_NON_IMAGE_EXECUTABLE_REGION"],
    "REMOTE_APC_CREATION_SUSPECT": "the ApcTelemetry line carries no class or access (5), and its presence turns "
                                   "route B off (2)",
    "THREAD_HIJACK_INTENT/apc": "the ApcTelemetry line carries no class or access (5), and its presence turns route B "
                                "off (2)",
    "SUSPICIOUS_NTDLL_IMAGE_PATH": _UPLINK_ONLY.format("image path"),
    "MULTIPLE_NTDLL_IMAGE_MAPPINGS": _UPLINK_ONLY.format("image path"),
    "HIGH_VALUE_REGISTRY_ACTIVITY": _UPLINK_ONLY.format("key path"),
    "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM": _UPLINK_ONLY.format("TI target, size or protection, nor thread facts"),
    "PROCESS_HOLLOWING_MARK_CHAIN_STRONG": _UPLINK_ONLY.format("TI target, size or protection, nor thread facts"),
    "PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN": _UPLINK_ONLY.format("TI target, size or protection, nor thread facts"),
}  # fmt: skip
_TI_PIDS = "TI pids print as 0 (4.5 [Q]): no controller step from TI events"
_JSONL_LIVE = {"reason": "the detection line carries no reason (5)",
               "corr_flags": "the detection line carries no correlation (5)"}  # fmt: skip

REBUILT: dict[str, Rebuilt] = {
    "ioctl": Rebuilt("boot time + QPC / frequency (2.4)", _RECORDS_ONLY, blind=_RECORD_CORR),
    "suite": Rebuilt("boot time + QPC / frequency (4.3 `qpc=`)", {
        **_RECORDS_ONLY,
        "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP": "Flags are printed by name and some bits never (4.3), so the value is "
                                                "not kept: no stack-integrity facts",
    }, blind=_RECORD_CORR),
    "etl": Rebuilt("FILETIME (2.4)", {
        "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP": _NO_FLAGS,
        "PROCESS_HOLLOWING_MARK_CHAIN_STRONG": "the TI CREATEPROCESS event is not in the stock manifest (3.11 [AMB]), "
                                               "so the .etl has none: no CREATE_SUSPENDED mark",
        "PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN": "MAPVIEW_TRANSACTED reads back as the stock MAPVIEW (3.11 [AMB]): no "
                                               "TXF_SUSPECT mark, and no CREATE_SUSPENDED",
        "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM": "the chain's CREATEPROCESS step is not in the .etl (3.11 [AMB])",
    }, reconciled=True),
    "printer": Rebuilt("FILETIME `ts=` (4.5)", {
        "DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION": "a printed DIRECT class may be the printer's upgrade of UNKNOWN "
                                                   "(4.4 [Q]): only a class the heuristic cannot give is kept",
        "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP": _NO_FLAGS,
        "REMOTE_APC_CREATION_SUSPECT": "ApcTelemetry has no formatter (4.5), and its rows turn route B off (2)",
        "THREAD_HIJACK_INTENT/apc": "ApcTelemetry has no formatter (4.5), and its rows turn route B off (2)",
        "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM": _TI_PIDS, "PROCESS_HOLLOWING_MARK_CHAIN_STRONG": _TI_PIDS,
        "PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN": _TI_PIDS,
    }, reconciled=True),
    "jsonl": Rebuilt("the client's write time, ms (5)", _JSONL, blind=_RECORD_CORR, ms=True, reconciled=True,
                     live_blind=_JSONL_LIVE),
    "jsonl_high_priority": Rebuilt("the client's write time, ms (5)", {
        "*": "only DIRECT-class handle records and detections reach severity 4 (5): no thread, APC, image, registry "
             "or TI line"}, blind=_RECORD_CORR, ms=True,
        kept=("DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION", "STACK_INTEGRITY_ANOMALY_ON_HANDLE_OP")),
    "jsonl+console": Rebuilt("JSONL's; console rows have none", _JSONL, blind=_RECORD_CORR, ms=True, reconciled=True,
                             live_blind=_JSONL_LIVE),
    "console": Rebuilt("none (4.2, 4.6)", {"*": "no row has a time, so none enters a window"}),
    "controller": Rebuilt("none (4.8)", {"*": "no row has a time; the log holds only the controller's verdicts"}),
}  # fmt: skip


def _files() -> dict[str, str]:
    from swk.capture.outputs import OutputContext
    from swk.capture.simulate.run import FORMAT_FILES

    return {**FORMAT_FILES, "jsonl_high_priority": OutputContext.high_priority_file}


def _cols(names: list[str] | set[str] | tuple[str, ...], *, schema_order: bool = True) -> str:
    order = {name: i for i, name in enumerate(EVENTS.names)}
    return " ".join(f"`{n}`" for n in (sorted(names, key=order.__getitem__) if schema_order else names))


_DOC_HEAD = """# What each Sleepwalker output carries of a run

Generated from `capture/simulate/carried.py` (`render()`); `tests/test_roundtrip_formats.py` fails when this page is
stale. Regenerate it with
`python -c 'from swk.capture.simulate import carried; print(carried.render(), end="")' > docs/formats.md`.

`swk simulate` writes one run in every Sleepwalker output format, `swk ingest` reads each back, and the test
compares every read-back row with the simulated case's row it came from, column by column:

- **same**: equal to the simulated row's value;
- **rule**: follows from the simulated row by the stated rule;
- **own**: the format's own text (a printed class, an image name): kept, not compared;
- **NULL**: every other column of a read-back row is NULL, for the reason given (the columns listed are those
  another format carries for the same event).

IOCTL records are matched by `sequence`, everything else in order. `swk analyze` on each read-back case must give
the simulated case's detections, with evidence mapped back to the case's event ids, except for the rules listed
under each format. Section numbers are those of the Sleepwalker spec.
"""


# Rules that give a value where the simulated row has none: no sign that the event carries the column.
_INVENTED = frozenset({"zero", "level", "record-kind"})


def _group(kind: str) -> str:
    return kind.removeprefix("record:").split("+")[0]


def render() -> str:
    """docs/formats.md: per format, one table of what its rows carry (column, how, why), then what it rebuilds."""
    files = _files()
    known: dict[str, set[str]] = {}  # the columns of an event that some format carries (not just prints as 0)
    for (_, kind), entry in CARRIED.items():
        carried = [c for c, name in entry.rule.items() if name not in _INVENTED]
        known.setdefault(_group(kind), set()).update(entry.same.split(), carried)
    lines = [_DOC_HEAD]
    for fmt in formats():
        lines += [f"## `{fmt}` ({files[fmt]})", "", "| rows | columns | carried | why |", "|---|---|---|---|"]
        notes: dict[str, list[str]] = {}  # KEEPS name -> the kinds it limits
        for (f, kind), entry in CARRIED.items():
            if f != fmt:
                continue
            if entry.extra:
                lines.append(f"| {kind} | all | the format's own rows | {entry.gone} |")
                continue
            if entry.only:
                notes.setdefault(entry.only, []).append(f"`{kind}`")
            if entry.same:
                lines.append(f"| {kind} | {_cols(entry.same.split())} | same | |")
            for name in dict.fromkeys(entry.rule.values()):
                cols = [c for c, r in entry.rule.items() if r == name]
                lines.append(f"| {kind} | {_cols(cols)} | rule | {RULES[name][0]} |")
            if entry.own:
                lines.append(f"| {kind} | {_cols(entry.own.split())} | own | printed text the case does not hold |")
            gone = known[_group(kind)] - entry.columns() - {"kind"}
            if gone or entry.gone != "-":
                lines.append(f"| {kind} | {_cols(gone) or '-'} | NULL | {entry.gone} |")
        held = [
            f"Of the case's {', '.join(kinds)} rows it holds only {KEEPS[name][0]}." for name, kinds in notes.items()
        ]
        lines += ["", *held, *([""] if held else []), *_rebuilt_lines(fmt), ""]
    lines += ["## `jsonl+console` (both logs of one run in one case)", "", *_rebuilt_lines("jsonl+console"), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _rebuilt_lines(fmt: str) -> list[str]:
    how = REBUILT[fmt]
    compared = ("statuses and live-only detections compared" if how.reconciled else
                "statuses not compared (live detections absent, untimed, or without most rules' evidence)")  # fmt: skip
    lines = [
        f"`swk analyze`: time from {how.time}; {compared}"
        + ("; times compared at the millisecond" if how.ms else "")
        + "."
    ]
    if how.lost:
        lines += ["", "| rule not rebuilt | why |", "|---|---|"]
    if "*" in how.lost:
        kept = f" but {_cols(how.kept, schema_order=False)}" if how.kept else ""
        lines.append(f"| every rule{kept} | {how.lost['*']} |")
    lines += [f"| `{rule}` | {why} |" for rule, why in how.lost.items() if rule != "*"]
    if how.blind:
        lines += ["", "| detection column not compared | why |", "|---|---|"]
        lines += [f"| `{column}` | {why} |" for column, why in how.blind.items()]
    if how.live_blind:
        lines += ["", "| live-only detection column not compared | why |", "|---|---|"]
        lines += [f"| `{column}` | {why} |" for column, why in how.live_blind.items()]
    return lines

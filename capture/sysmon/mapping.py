"""THE mapping from Windows events (Sysmon, Security) to the case's families and columns.

Each fact lands in the column a Sleepwalker source uses for it (docs/case-rows.md), so the analyze views run over
Sysmon rows unchanged where the fields allow. A column Sysmon does not carry stays NULL: no start-region protection,
no correlation flags, no QPC. README.md's "Sysmon mapping" section is `markdown_table()` of this module (a test
keeps them equal). Every row also keeps the event's own fields, raw, in `fields_json`.

Choices the sources leave open (also in the README):
- Sysmon 25 (ProcessTampering) is a `detection`: it is Sysmon's own verdict that an image was replaced or locked
  (hollowing, herpaderping), not an observation like a handle open; as a detection row it sits with the live
  detections `swk analyze` reconciles. The tampering process is not carried, so only the target is filled.
- Security 4656/4663 are `handle` rows only for Process and Thread objects (the handle family is process/thread
  handles; a file handle's access bits mean something else). Other objects are `generic`.
- `generic` rows (every other event) take the event's own ProcessId as the actor where it carries one, and the log
  header's process otherwise; for Sysmon the header process is always Sysmon itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

# Conversions a column goes through (swk.capture.sysmon.rows applies them).
INT, GUID, IMAGE, TEXT, MODULE, CALLTRACE, REGPATH, OPERATION, THREAD_OBJECT = (
    "int", "guid", "image", "text", "module", "calltrace", "regpath", "operation", "thread_object")  # fmt: skip

SYSMON_CHANNEL = "microsoft-windows-sysmon/operational"
SYSMON_PROVIDER = "microsoft-windows-sysmon"
SECURITY_CHANNEL = "security"
SECURITY_PROVIDER = "microsoft-windows-security-auditing"

# Sysmon's event names (its schema's task names), for `event_name`.
SYSMON_EVENTS: dict[int, str] = {
    1: "ProcessCreate", 2: "FileCreateTime", 3: "NetworkConnect", 4: "SysmonServiceStateChange",
    5: "ProcessTerminate", 6: "DriverLoad", 7: "ImageLoad", 8: "CreateRemoteThread", 9: "RawAccessRead",
    10: "ProcessAccess", 11: "FileCreate", 12: "RegistryEvent (Object create and delete)",
    13: "RegistryEvent (Value Set)", 14: "RegistryEvent (Key and Value Rename)", 15: "FileCreateStreamHash",
    16: "ServiceConfigurationChange", 17: "PipeEvent (Pipe Created)", 18: "PipeEvent (Pipe Connected)",
    19: "WmiEvent (WmiEventFilter activity detected)", 20: "WmiEvent (WmiEventConsumer activity detected)",
    21: "WmiEvent (WmiEventConsumerToFilter activity detected)", 22: "DNSEvent (DNS query)",
    23: "FileDelete (File Delete archived)", 24: "ClipboardChange (New content in the clipboard)",
    25: "ProcessTampering (Process image change)", 26: "FileDeleteDetected (File Delete logged)",
    27: "FileBlockExecutable", 28: "FileBlockShredding", 29: "FileExecutableDetected", 255: "Error",
}  # fmt: skip

# Sysmon registry EventType -> the RegistryTelemetry operation spelling (spec 2.2); Sysmon's DeleteKey and
# RenameKey have no Sleepwalker counterpart and keep the same style.
REGISTRY_OPERATIONS = {"CreateKey": "CREATE_KEY", "DeleteKey": "DELETE_KEY", "DeleteValue": "DELETE_VALUE",
                       "SetValue": "SET_VALUE", "RenameKey": "RENAME_KEY"}  # fmt: skip
# When an exporter lost EventType (NXLog renames it), 13 and 14 still have one meaning; 12 has three: NULL.
REGISTRY_DEFAULT = {"sysmon:13": "SET_VALUE", "sysmon:14": "RENAME_KEY"}
VALUE_OPERATIONS = frozenset({"SET_VALUE", "DELETE_VALUE"})


@dataclass(frozen=True)
class Col:
    """One case column filled from the first of `fields` the event carries, through `conv`."""

    column: str
    fields: tuple[str, ...]
    conv: str = TEXT


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: rules are singletons used as dict keys
class Rule:
    """How one kind of event becomes a case row."""

    kind: str
    family: str
    event_name: str | None
    cols: tuple[Col, ...]
    const: dict[str, object] = field(default_factory=dict)
    derive: tuple[str, ...] = ()  # derived columns: is_remote, got_start, is_high_value
    note: str = ""
    by_fields: bool = False  # chosen by a field's value, not by channel and event id alone

    @functools.cached_property
    def reads(self) -> tuple[str, ...]:
        """Every event field the rule reads, once each, in order."""
        return tuple(dict.fromkeys(name for col in self.cols for name in col.fields))


def _c(column: str, *fields: str, conv: str = TEXT) -> Col:
    return Col(column, fields, conv)


_SOURCE = (_c("actor_pid", "SourceProcessId", conv=INT), _c("target_pid", "TargetProcessId", conv=INT),
           _c("actor_image", "SourceImage", conv=IMAGE), _c("target_image", "TargetImage", conv=IMAGE))  # fmt: skip
# Sysmon 8 writes ...Guid and Sysmon 10 ...GUID: both spellings are read (each rule's own first), into one column.
_GUIDS_8 = (_c("actor_guid", "SourceProcessGuid", "SourceProcessGUID", conv=GUID),
            _c("target_guid", "TargetProcessGuid", "TargetProcessGUID", conv=GUID))  # fmt: skip
_GUIDS_10 = (_c("actor_guid", "SourceProcessGUID", "SourceProcessGuid", conv=GUID),
             _c("target_guid", "TargetProcessGUID", "TargetProcessGuid", conv=GUID))  # fmt: skip
_SELF = (_c("actor_pid", "ProcessId", conv=INT), _c("target_pid", "ProcessId", conv=INT),
         _c("actor_guid", "ProcessGuid", conv=GUID), _c("target_guid", "ProcessGuid", conv=GUID),
         _c("actor_image", "Image", conv=IMAGE), _c("target_image", "Image", conv=IMAGE))  # fmt: skip
_REGISTRY = (_c("actor_pid", "ProcessId", conv=INT), _c("actor_guid", "ProcessGuid", conv=GUID),
             _c("actor_image", "Image", conv=IMAGE), _c("operation", "EventType", conv=OPERATION),
             _c("key_path", "TargetObject", conv=REGPATH))  # fmt: skip

SYSMON: dict[int, Rule] = {
    1: Rule("sysmon:1", "process", SYSMON_EVENTS[1], (
        _c("actor_pid", "ParentProcessId", conv=INT), _c("target_pid", "ProcessId", conv=INT),
        _c("parent_pid", "ParentProcessId", conv=INT), _c("actor_guid", "ParentProcessGuid", conv=GUID),
        _c("target_guid", "ProcessGuid", conv=GUID), _c("actor_image", "ParentImage", conv=IMAGE),
        _c("target_image", "Image", conv=IMAGE), _c("image_path", "Image", conv=IMAGE),
        _c("command_line", "CommandLine"), _c("session_id", "TerminalSessionId", conv=INT)),
        const={"is_create": True}, note="the actor is the parent: Sysmon does not carry the creator"),
    5: Rule("sysmon:5", "process", SYSMON_EVENTS[5], (*_SELF, _c("image_path", "Image", conv=IMAGE)),
            const={"is_create": False}),
    7: Rule("sysmon:7", "image", SYSMON_EVENTS[7], (*_SELF, _c("image_path", "ImageLoaded", conv=IMAGE)),
            note="signature fields stay in fields_json (not Sleepwalker's signature level)"),
    8: Rule("sysmon:8", "thread", SYSMON_EVENTS[8], (
        *_SOURCE, *_GUIDS_8, _c("tid", "NewThreadId", conv=INT), _c("start_address", "StartAddress", conv=INT),
        _c("start_module", "StartModule", conv=MODULE), _c("start_function", "StartFunction", conv=MODULE)),
        derive=("is_remote", "got_start"),
        note="StartModule/StartFunction `-` or empty -> '' (a start in no image); is_remote = source != target"),
    10: Rule("sysmon:10", "handle", SYSMON_EVENTS[10], (
        *_SOURCE, *_GUIDS_10, _c("tid", "SourceThreadId", conv=INT), _c("access_mask", "GrantedAccess", conv=INT),
        _c("frames", "CallTrace", conv=CALLTRACE)),
        note="frames from CallTrace; frame_count, origin_address/path, from_ntdll, from_exe, class_id and "
             "class_name derived from the innermost frame (spec 4.2/4.4 user-mode heuristic)"),
    12: Rule("sysmon:12", "registry", SYSMON_EVENTS[12], _REGISTRY, derive=("is_high_value",)),
    13: Rule("sysmon:13", "registry", SYSMON_EVENTS[13], (*_REGISTRY, _c("value_data", "Details")),
             derive=("is_high_value",),
             note="value operations split TargetObject at its last backslash into key_path and value_name"),
    14: Rule("sysmon:14", "registry", SYSMON_EVENTS[14], _REGISTRY, derive=("is_high_value",),
             note="NewName stays in fields_json"),
    25: Rule("sysmon:25", "detection", SYSMON_EVENTS[25], (
        _c("target_pid", "ProcessId", conv=INT), _c("target_guid", "ProcessGuid", conv=GUID),
        _c("target_image", "Image", conv=IMAGE), _c("reason", "Type")),
        const={"detection_name": "SYSMON_PROCESS_TAMPERING"},
        note="Sysmon's own verdict, so a detection; severity is not carried"),
}  # fmt: skip

SECURITY: dict[int, Rule] = {
    4688: Rule("security:4688", "process", None, (
        _c("actor_pid", "ProcessId", conv=INT), _c("target_pid", "NewProcessId", conv=INT),
        _c("parent_pid", "ProcessId", conv=INT), _c("creator_pid", "ProcessId", conv=INT),
        _c("actor_image", "ParentProcessName", conv=IMAGE), _c("target_image", "NewProcessName", conv=IMAGE),
        _c("image_path", "NewProcessName", conv=IMAGE), _c("command_line", "CommandLine")),
        const={"is_create": True}, note="ProcessId is the creator (\"Creator Process ID\")"),
    4689: Rule("security:4689", "process", None, (
        _c("actor_pid", "ProcessId", conv=INT), _c("target_pid", "ProcessId", conv=INT),
        _c("actor_image", "ProcessName", conv=IMAGE), _c("target_image", "ProcessName", conv=IMAGE),
        _c("image_path", "ProcessName", conv=IMAGE)), const={"is_create": False}),
}  # fmt: skip


def _security_handle(event_id: int) -> Rule:
    return Rule(f"security:{event_id}", "handle", None, (
        _c("actor_pid", "ProcessId", conv=INT), _c("actor_image", "ProcessName", conv=IMAGE),
        _c("target_image", "ObjectName", conv=IMAGE), _c("access_mask", "AccessMask", conv=INT),
        _c("is_thread_object", "ObjectType", conv=THREAD_OBJECT)),
        note="only ObjectType Process or Thread; the target pid is not carried (ObjectName is its image)",
        by_fields=True)  # fmt: skip


# 4656 (handle requested) and 4663 (access attempted) are handle rows when the object is a process or thread.
SECURITY_HANDLE: dict[int, Rule] = {4656: _security_handle(4656), 4663: _security_handle(4663)}
HANDLE_OBJECT_TYPES = frozenset({"Process", "Thread"})


@functools.lru_cache(maxsize=4096)
def generic(source: str, channel: str | None, event_id: int) -> Rule:
    """The rule for an event without its own mapping: the actor and the raw fields only."""
    if source == "sysmon":
        kind, name = f"sysmon:{event_id}", SYSMON_EVENTS.get(event_id)
        cols = (_c("actor_pid", "ProcessId", conv=INT), _c("actor_guid", "ProcessGuid", conv=GUID),
                _c("actor_image", "Image", conv=IMAGE))  # fmt: skip
    else:
        kind = f"security:{event_id}" if source == "security" else f"eventlog:{channel or ''}:{event_id}"
        name = None
        cols = (_c("actor_pid", "ProcessId", conv=INT), _c("actor_image", "ProcessName", "Image", conv=IMAGE))
    return Rule(kind, "generic", name, cols)


@functools.cache
def _security_other(event_id: int) -> Rule:
    """4656/4663 on an object that is not a process or thread: generic, and marked as chosen by a field."""
    rule = generic("security", None, event_id)
    return Rule(rule.kind, rule.family, rule.event_name, rule.cols, by_fields=True)


@functools.lru_cache(maxsize=4096)
def source_of(channel: str | None, provider: str | None) -> str:
    """`sysmon`, `security` or `eventlog`, from the channel (any case) or, failing that, the provider."""
    chan = (channel or "").lower()
    prov = (provider or "").lower()
    if chan == SYSMON_CHANNEL or (not chan and prov == SYSMON_PROVIDER):
        return "sysmon"
    if chan == SECURITY_CHANNEL or (not chan and prov == SECURITY_PROVIDER):
        return "security"
    return "eventlog"


def rule_for(source: str, channel: str | None, event_id: int, fields: dict[str, object]) -> Rule:
    """The rule an event follows (`by_fields` on the result: another event of the same id may follow another)."""
    if source == "sysmon":
        rule = SYSMON.get(event_id)
    elif source == "security":
        rule = SECURITY.get(event_id)
        if rule is None and event_id in SECURITY_HANDLE:
            object_type = fields.get("ObjectType")
            if isinstance(object_type, str) and object_type in HANDLE_OBJECT_TYPES:  # (any JSON value may be here)
                return SECURITY_HANDLE[event_id]
            return _security_other(event_id)
    else:
        rule = None
    return rule if rule is not None else generic(source, channel, event_id)


def markdown_table() -> str:
    """The mapping as the Markdown table README.md's "Sysmon mapping" section shows."""
    lines = ["| event | family | columns (<- source field) | note |", "|---|---|---|---|"]
    named = [(f"Sysmon {i} {r.event_name}", r) for i, r in SYSMON.items()]
    named += [(f"Security {i}", r) for i, r in (*SECURITY.items(), *SECURITY_HANDLE.items())]
    for title, rule in named:
        cols = [f"`{c.column}` <- {'/'.join(c.fields)}" for c in rule.cols]
        cols += [f"`{k}` = {v!r}" for k, v in rule.const.items()]
        cols += [f"`{d}` (derived)" for d in rule.derive]
        lines.append(f"| {title} | {rule.family} | {'; '.join(cols)} | {rule.note} |")
    lines.append("| any other | generic | `actor_pid` <- ProcessId (else the log header's pid); `actor_guid` <- "
                 "ProcessGuid; `actor_image` <- Image/ProcessName | kind `sysmon:<id>`, `security:<id>` or "
                 "`eventlog:<channel>:<id>` |")  # fmt: skip
    return "\n".join(lines)

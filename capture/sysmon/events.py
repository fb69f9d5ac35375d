"""One Windows event, whatever wrote it down: the EVTX JSON shape (pyevtx-rs, `evtx_dump -o jsonl`) or a flat
exporter object (OTRF/NXLog: EventData fields at top level; Winlogbeat: under `winlog.event_data`).

Only the facts every log carries are lifted out here; the event's own fields are passed on untouched for the mapping.
"""

from __future__ import annotations

from typing import NamedTuple


class Event(NamedTuple):
    """The header facts of an event, and its data fields (flat, raw)."""

    channel: str | None
    provider: str | None
    event_id: int
    host: object
    sequence: object  # EVTX EventRecordID / NXLog RecordNumber
    header_pid: object  # the process that logged it (EVTX System/Execution)
    header_tid: object
    system_time: object  # the log's own time for the event, as written
    fields: dict[str, object]  # last, so `event[:-1]` is the header facts without the (large) fields


def event_id(value: object) -> int | None:
    """An EventID as written (int, numeric string, or EVTX `{"#text": 4111, "#attributes": {"Qualifiers": ...}}`)."""
    if isinstance(value, dict):
        value = value.get("#text")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


_NAMES = (str, type(None))


def _name(value: object) -> str | None:
    """A channel or provider name as text. A damaged record or an odd exporter can put a number or an object where
    the name goes (seen in EVTX records with changed bytes); the mapping keys on these names, so a number becomes
    its decimal text, an element its `#text`, and anything else None (the raw value stays in fields_json)."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        text = value.get("#text")
        return text if isinstance(text, str) else None
    return None


def _attrs(value: object) -> dict[str, object]:
    """The `#attributes` of an EVTX JSON element (an empty dict when it has none)."""
    if isinstance(value, dict):
        attrs = value.get("#attributes")
        if isinstance(attrs, dict):
            return attrs
    return {}


def data_fields(data: object) -> dict[str, object]:
    """EventData/UserData as a flat dict: named Data as they are; UserData's one inner element unwrapped."""
    if not isinstance(data, dict):
        return {}
    if len(data) == 1:
        (inner,) = data.values()
        if isinstance(inner, dict) and "Data" not in data:
            return {k: v for k, v in inner.items() if k != "#attributes"}
    return data


def from_evtx_json(event: object) -> Event | None:
    """The `Event` element of pyevtx-rs JSON, or None when it is not one."""
    try:  # the shape every Windows event has, read without checks (this runs for every record)
        system = event["System"]  # type: ignore[index]
        eid = system["EventID"]
        data = event.get("EventData")  # type: ignore[union-attr]
        channel, provider = system["Channel"], system["Provider"]["#attributes"]["Name"]
        if (type(eid) is int and type(data) is dict and "Data" not in data  # named EventData
                and type(channel) in _NAMES and type(provider) in _NAMES):  # fmt: skip
            execution = system["Execution"]["#attributes"]
            return Event(channel, provider, eid, system["Computer"],
                         system["EventRecordID"], execution["ProcessID"], execution["ThreadID"],
                         system["TimeCreated"]["#attributes"]["SystemTime"], data)  # fmt: skip
    except (KeyError, TypeError):
        pass
    return _from_evtx_json_checked(event)


def _from_evtx_json_checked(event: object) -> Event | None:
    """`from_evtx_json` for any shape: every element optional."""
    if not isinstance(event, dict):
        return None
    system = event.get("System")
    if not isinstance(system, dict):
        return None
    eid = event_id(system.get("EventID"))
    if eid is None:
        return None
    execution = _attrs(system.get("Execution"))
    data = event.get("EventData")
    if data is None:
        data = event.get("UserData", event.get("ProcessingErrorData"))
    return Event(_name(system.get("Channel")), _name(_attrs(system.get("Provider")).get("Name")), eid,
                 system.get("Computer"),
                 system.get("EventRecordID"), execution.get("ProcessID"), execution.get("ThreadID"),
                 _attrs(system.get("TimeCreated")).get("SystemTime"), data_fields(data))  # fmt: skip


def from_flat(obj: dict[str, object]) -> Event | None:
    """An exporter's flat object, or None when it is not a Windows event (no event id, or no channel/provider)."""
    winlog = obj.get("winlog")
    if isinstance(winlog, dict):
        return _from_winlogbeat(obj, winlog)
    if "Event" in obj and "EventID" not in obj:
        return from_evtx_json(obj["Event"])
    eid = event_id(obj.get("EventID", obj.get("EventId")))
    channel = _name(obj.get("Channel"))
    provider = _name(obj.get("SourceName", obj.get("ProviderName")))
    if eid is None or (channel is None and provider is None):
        return None
    created = obj.get("TimeCreated")
    if isinstance(created, dict):
        created = created.get("SystemTime") or _attrs(created).get("SystemTime")
    return Event(channel, provider, eid, obj.get("Hostname", obj.get("Computer")),
                 obj.get("RecordNumber", obj.get("EventRecordID")), obj.get("ExecutionProcessID"),
                 obj.get("ThreadID") if "ExecutionProcessID" in obj else None,
                 created or obj.get("@timestamp") or obj.get("EventTime"), obj)  # fmt: skip


def _from_winlogbeat(obj: dict[str, object], winlog: dict[str, object]) -> Event | None:
    eid = event_id(winlog.get("event_id"))
    channel, provider = _name(winlog.get("channel")), _name(winlog.get("provider_name"))
    if eid is None or (channel is None and provider is None):
        return None
    process = winlog.get("process")
    process = process if isinstance(process, dict) else {}
    thread = process.get("thread")
    thread = thread if isinstance(thread, dict) else {}
    data = winlog.get("event_data")
    return Event(channel, provider, eid, winlog.get("computer_name"), winlog.get("record_id"), process.get("pid"),
                 thread.get("id"), obj.get("@timestamp"), data if isinstance(data, dict) else {})  # fmt: skip

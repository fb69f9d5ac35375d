"""One record's JSON as pyevtx-rs writes it: its header facts, its data fields, and its data element's text.

pyevtx-rs writes every record the same compact way, System's members in schema order:
`{"Event":{"#attributes":{"xmlns":...},"System":{"Provider":...,"EventID":10,...,"Computer":"..."},"EventData":{...}}}`.
About half of a Sysmon record's JSON is System, where eight values matter and a dozen small objects would be built
to reach them; decoding JSON is most of the cost of reading EVTX (bench/ingest_evtx.py). So when System matches
`_SYSTEM` exactly, its eight values come from the match and only EventData is decoded (a parser of the same
layout by string searches was tried: its Python steps cost three times the pattern's match). A null Channel or
Computer and a null EventData take the shortcut too (9% of EVTX-ATTACK-SAMPLES' records were decoded whole for
them). Anything else (an escaped string, UserData, an EventID with Qualifiers, an unknown member, trailing members)
is decoded whole by `events.from_evtx_json`: the pattern is only a shortcut to the same values, and
`tests/test_sysmon_evtx.py` holds both routes to the same rows over the whole corpus.
"""

from __future__ import annotations

import json
import re

from swk.capture.sysmon.events import from_evtx_json

# json's C scanner straight away: pyevtx-rs writes one compact object per record, so json.loads's encoding and
# whitespace checks around it are only cost.
_scan = json.JSONDecoder().scan_once
_TEXT = r'"([^"\\\x00-\x1f]*)"'  # a JSON string without escapes: its text is the value as written
_SKIP = r'"[^"\\\x00-\x1f]*"'
_INT = r"(0|[1-9][0-9]*)"
_ATTRS = r'\{"#attributes":\{(?:"[A-Za-z]+":' + _SKIP + r'(?:,"[A-Za-z]+":' + _SKIP + r")*)?\}\}"
# Each captured member appears once in the pattern and a skipped one is named, so a duplicated member (where json
# keeps the last) cannot match.
_SYSTEM = re.compile(
    r'\{"Event":\{"#attributes":\{"xmlns":"http://schemas\.microsoft\.com/win/2004/08/events/event"\},"System":\{'
    r'"Provider":\{"#attributes":\{"Name":' + _TEXT + r'(?:,"Guid":' + _SKIP + r')?(?:,"EventSourceName":'
    + _SKIP + r")?\}\},"
    r'"EventID":' + _INT + r","
    r'(?:"Version":(?:\d+|null),)?(?:"Level":(?:\d+|null),)?(?:"Task":(?:\d+|null),)?(?:"Opcode":(?:\d+|null),)?'
    r'(?:"Keywords":(?:' + _SKIP + r"|null),)?"
    r'"TimeCreated":\{"#attributes":\{"SystemTime":' + _TEXT + r"\}\},"
    r'"EventRecordID":' + _INT + r","
    r'(?:"Correlation":(?:null|' + _ATTRS + r"),)?"
    r'"Execution":\{"#attributes":\{"ProcessID":' + _INT + r',"ThreadID":' + _INT
    + r'(?:,"ProcessorID":\d+)?(?:,"SessionID":\d+)?(?:,"KernelTime":\d+)?(?:,"UserTime":\d+)?'
    r'(?:,"ProcessorTime":\d+)?\}\},'
    r'"Channel":(?:null|' + _TEXT + r'),"Computer":(?:null|' + _TEXT + r')(?:,"Security":(?:null|' + _ATTRS
    + r"))?"
    r'\},"EventData":(?=\{|null\}\}$)'
)  # fmt: skip


def decode(data: str) -> tuple[tuple[object, ...], dict[str, object], str] | None:
    """(header facts in `events.Event` order, data fields, data element text) of a record, or None when it is not
    an event. Raises what json raises for JSON that does not parse."""
    found = _SYSTEM.match(data)
    if found is not None:
        at = found.end()
        try:
            fields, end = _scan(data, at) if data[at] == "{" else ({}, at + 4)  # or `null`: no fields
        except (ValueError, StopIteration):
            fields, end = None, 0  # decoded whole below, so the error is the one the whole record gives
        if type(fields) is dict and "Data" not in fields and end == len(data) - 2 and data.endswith("}}"):
            provider, eid, system_time, record_id, pid, tid, channel, computer = found.groups()
            head = (channel, provider, int(eid), computer, int(record_id), int(pid), int(tid), system_time)
            return head, fields, data[at:-2]
    element = _scan(data, 0)[0]["Event"]
    event = from_evtx_json(element)
    if event is None:
        return None
    return event[:-1], event[-1], _fields_json(data, element)


def _fields_json(data: str, event: dict[str, object]) -> str:
    """The event's data element (EventData, UserData, ...) as pyevtx-rs wrote it, sliced out of the record's JSON:
    it is the last element of `Event`, and its key's first occurrence is its own (System holds no such key)."""
    last = next(reversed(event), None)
    if last not in (None, "System", "#attributes") and data.endswith("}}"):
        at = data.find(f'"{last}":')
        if at > 0:
            return data[at + len(last) + 3 : -2]
    return "{}"

"""The ETW printer's blocks (spec 4.5) back to case rows: one parser per family, shared by the printer reader and
the client console reader (builds whose client printed these blocks on the same console).

What a block does not carry stays NULL: the printer's TI block shows pids of 0 for 4-byte fields [Q] and 0 for an
absent access mask, so zeros there are NULL; the deep sample is printed only as entropy and its first 16 bytes, kept
in `fields_json` (`deepSampleEntropy`, `deepSampleOpcodes`), with `deep_sample` NULL. Text the printer puts in
place of an empty string (`<unknown>`, `<none>`) is stored as the empty string the ETW field held.
"""

from __future__ import annotations

import json
import re
from typing import Any

from swk.capture.base import Reject
from swk.capture.text import parse as p
from swk.capture.text.lines import Block, Cursor, DamagedError, reject_lines
from swk.capture.text.printer_cache import ci
from swk.kernel.clock import FILETIME_UNIX_EPOCH
from swk.kernel.etw import PROVIDER_NAME, THREAT_INTEL_PROVIDER_NAME

H16, H8, HEX = r"([0-9A-F]{16})", r"([0-9A-F]{8})", r"([0-9A-F]{1,16})"
DEC, BIT, PROT = r"(\d{1,10})", r"([01])", r"(0x[0-9A-F]{8} \(.*?\))"
TITLES = {
    "HandleTelemetry": re.compile(rf"\[HANDLE\] (\S+)  {H16} -> {H16}  access=0x{H8} \((.*)\)"),
    "ThreadTelemetry": re.compile(rf"\[THREAD\] pid={H16} tid={H16} creator={H16}"),
    "ProcessTelemetry": re.compile(rf"\[PROCESS\] (CREATE|EXIT) pid={H16} parent={H16} creator={H16}/{H16} session={DEC}"),
    "ImageTelemetry": re.compile(rf"\[IMAGE\] pid={H16} base=0x{H16} size=0x{HEX}"),
    "RegistryTelemetry": re.compile(rf"\[REGISTRY\] op=(\S+) pid={H16} session={DEC} class=(\w+)\({DEC}\)"),
    "DetectionTelemetry": re.compile(rf"\[DETECTION\] name=(.*) severity={DEC} pid={H16} target={H16}"),
    "ti": re.compile(r"\[ETW-TI\] event=(.*)"),
    "other": re.compile(r"\[ETW\] event=(.*) \(no formatter\)"),
}  # fmt: skip
SUMMARY = re.compile(
    rf"\[REGISTRY\] op=(\S+) pid={H16} class=(\w+)\({DEC}\) path=(.*) value=(.*) \(\+{DEC} similar suppressed\)"
)
TITLE_PREFIXES = ("[HANDLE] ", "[THREAD] ", "[PROCESS] ", "[IMAGE] ", "[REGISTRY] ", "[DETECTION] ", "[ETW-TI] ",
                  "[ETW] event=")  # fmt: skip
META = re.compile(rf"Meta   event=(.*) pid={DEC} tid={DEC} cpu={DEC} lvl=(\d{{1,3}}) op=(\d{{1,3}}) ver=(\d{{1,3}})"
                  rf" ts=0x{H16} dt=0x{HEX}")  # fmt: skip
FRAME = re.compile(rf"       #(\d) 0x{H16} \((.*)\)")
MAX_SUPPRESSED = 1_000_000  # a summary count beyond this is damage, not rows to make
_L = {name: re.compile(text) for name, text in {
    "caller_image": r"Actor  callerImage=(.*)", "target_image": r"       targetImage=(.*)",
    "origin": rf"Origin addr=0x{H16} \((.*)\)", "path": r"       path=(.*)",
    "protect": rf"       protect={PROT} exec={BIT} fromNtdll={BIT} fromExe={BIT}",
    "status": r"Status open=(\S+) basic=(\S+) section=(\S+)",
    "deep": rf"Deep   allocBase=0x{H16} regionSize=0x{HEX} protect={PROT} state=(\S+) type=(\S+)",
    "backing": rf"       backing=(\w+) committed={BIT} privateCommit={BIT} imageCommit={BIT} mappedCommit={BIT}",
    "sample": r"       sampleSize=(\d{1,2}) entropy=(\d\.\d{3}) opcodes=((?:[0-9A-F]{2})(?: [0-9A-F]{2}){0,15}(?: \.\.\.)?|<none>)",
    "stack": r"Stack  frames=(\d{1,10})", "direct": r"Alert  direct-syscall-suspect classification observed",
    "tflags": rf"Flags  remote={BIT} outsideMainImage={BIT} gotStart={BIT} gotRange={BIT}",
    "process_image": r"Actor  processImage=(.*)", "creator_image": r"       creatorImage=(.*)",
    "start": rf"Start  0x{H16} \((.*)\)", "image": rf"Image  base=0x{H16} \((.*)\) size=0x{HEX}",
    "corr": rf"Corr   flags=0x{H8} \((.*)\) access=0x{H8} ageMs={DEC}",
    "startr": rf"StartR status=(\S+) protect={PROT} state=(\S+) type=(\S+)",
    "startb": rf"StartB backing=(\w+) committed={BIT} privateCommit={BIT}",
    "outside": r"Alert  thread start is outside main image range",
    "correlated": r"Alert  thread event has recent handle-intent correlation",
    "pstatus": rf"Status create=(\S+) startKey=0x{H16}", "pimage": r"Image  (.*)", "cmd": r"Cmd    (.*)",
    "ipath": r"Image  path=(.*)", "symbol": r"       symbol=(.*)",
    "trust": rf"Trust  systemMode={BIT} sigKnown={BIT} sigLevel=(\d{{1,3}}) sigType=(\d{{1,3}})",
    "rpath": r"Path   (.*)", "value": r"Value  (.*)", "data": rf"Data   type={DEC} size={DEC} highValue={BIT}",
    "reason": r"Reason (.*)", "ti_actor": rf"Actor  callerPid={H16} image=(.*)",
    "ti_target": rf"Target pid={H16} image=(.*) tid={H16} access=0x{H8}",
    "apc": rf"APC    routine=0x{H16} \((.*)\)", "signal": r"Signal (.*)",
}.items()}  # fmt: skip


def _empty(text: str, placeholder: str) -> str:
    return "" if text == placeholder else text


def meta(block: Block, name: str, row: dict[str, Any]) -> None:
    """The Meta line: ETW header pid/tid, level, opcode, version and FILETIME (cpu and dt are not case columns)."""
    m = block.take(META, "Meta")
    if m[1] != name:
        raise DamagedError(f"Meta names {m[1]!r} in a {name} block")
    filetime = int(m[8], 16)
    row.update(header_pid=int(m[2]), header_tid=int(m[3]), level=int(m[5]), opcode=int(m[6]), etw_version=int(m[7]),
               raw_clock=p.u64(m[8]), clock="filetime", ts=(filetime - FILETIME_UNIX_EPOCH) // 10)  # fmt: skip


def stack(block: Block, row: dict[str, Any]) -> None:
    """`Stack  frames=<n>` and its (at most 8) frame lines."""
    count = int(block.take(_L["stack"], "Stack")[1])
    frames = p.frame_lines(block, count, FRAME)
    if count > 0xFFFFFFFF:
        raise DamagedError(f"frames={count} does not fit 32 bits")
    row.update(frame_count=min(count, 0x7FFFFFFF), frames=frames)


def _base(name: str, family: str) -> dict[str, Any]:
    return {"family": family, "kind": f"sleepwalker:etw:{name}", "provider": PROVIDER_NAME, "event_name": name}


def handle(block: Block, m: re.Match[str]) -> dict[str, Any]:
    row = _base("HandleTelemetry", "handle")
    row.update(class_name=m[1], actor_pid=p.u64(m[2]), target_pid=p.u64(m[3]), access_mask=p.u32(m[4]))
    meta(block, "HandleTelemetry", row)
    row["actor_image"] = p.image(block.take(_L["caller_image"], "callerImage")[1])
    row["target_image"] = p.image(block.take(_L["target_image"], "targetImage")[1])
    origin = block.take(_L["origin"], "Origin")
    path = _empty(block.take(_L["path"], "path")[1], "<unknown>")
    prot = block.take(_L["protect"], "protect")
    status = block.take(_L["status"], "Status")
    exec_, ntdll, exe = prot[2] == "1", prot[3] == "1", prot[4] == "1"
    row.update(origin_address=p.u64(origin[1]), origin_path=path, origin_protect=p.protect(prot[1]),
               exec_protect=exec_, from_ntdll=ntdll, from_exe=exe, status_open_process=p.status_word(status[1]),
               status_basic_info=p.status_word(status[2]), status_section_name=p.status_word(status[3]),
               class_id=p.kernel_class(m[1], exec_, ntdll, exe, path))  # fmt: skip
    if deep := block.maybe(_L["deep"]):
        block.take(_L["backing"], "backing")
        sample = block.take(_L["sample"], "sampleSize")
        row.update(deep_alloc_base=p.u64(deep[1]), deep_region_size=p.u64(deep[2]),
                   deep_region_protect=p.protect(deep[3]), deep_region_state=p.state(deep[4]),
                   deep_region_type=p.mem_type(deep[5]), deep_sample_size=int(sample[1]))  # fmt: skip
        if int(sample[1]):
            row["fields_json"] = json.dumps({"deepSampleEntropy": sample[2], "deepSampleOpcodes": sample[3]})
    else:  # the Deep lines are printed whenever one of these is non-zero
        row.update(deep_alloc_base=0, deep_region_size=0, deep_sample_size=0)
    stack(block, row)
    if (block.maybe(_L["direct"]) is not None) != (m[1] == "DIRECT-SYSCALL-SUSPECT"):
        raise DamagedError("Alert line does not agree with the class")
    return row


def thread(block: Block, m: re.Match[str]) -> dict[str, Any]:
    row = _base("ThreadTelemetry", "thread")
    row.update(target_pid=p.u64(m[1]), tid=p.u64(m[2]), actor_pid=p.u64(m[3]))
    meta(block, "ThreadTelemetry", row)
    flags = block.take(_L["tflags"], "Flags")
    row.update(is_remote=flags[1] == "1", outside_main_image=flags[2] == "1", got_start=flags[3] == "1",
               got_range=flags[4] == "1")  # fmt: skip
    row["target_image"] = p.image(block.take(_L["process_image"], "processImage")[1])
    row["actor_image"] = p.image(block.take(_L["creator_image"], "creatorImage")[1])
    start = block.take(_L["start"], "Start")
    image = block.take(_L["image"], "Image")
    corr = block.take(_L["corr"], "Corr")
    region = block.take(_L["startr"], "StartR")
    block.take(_L["startb"], "StartB")
    protect = p.protect(region[2])
    row.update(start_address=p.u64(start[1]), image_base=p.u64(image[1]), image_size=p.u64(image[3]),
               corr_flags=p.u32(corr[1]), corr_access_mask=p.u32(corr[3]), corr_age_ms=int(corr[4]),
               start_region_status=p.status_word(region[1]), start_region_protect=protect,
               start_region_state=p.state(region[3]), start_region_type=p.mem_type(region[4]),
               start_region_exec=bool(protect & 0xF0))  # fmt: skip
    stack(block, row)
    if (block.maybe(_L["outside"]) is not None) != row["outside_main_image"]:
        raise DamagedError("outside-main-image Alert does not agree with the Flags line")
    if (block.maybe(_L["correlated"]) is not None) != bool(row["corr_flags"]):
        raise DamagedError("correlation Alert does not agree with the Corr line")
    return row


def process(block: Block, m: re.Match[str]) -> dict[str, Any]:
    row = _base("ProcessTelemetry", "process")
    create = m[1] == "CREATE"
    pid, creator = p.u64(m[2]), p.u64(m[4])
    row.update(is_create=create, target_pid=pid, actor_pid=creator if create else pid, parent_pid=p.u64(m[3]),
               creator_pid=creator, creator_tid=p.u64(m[5]), session_id=p.u32(m[6], 10))  # fmt: skip
    meta(block, "ProcessTelemetry", row)
    status = block.take(_L["pstatus"], "Status")
    row.update(create_status=p.status_word(status[1]), process_start_key=p.u64(status[2]),
               image_path=_empty(block.take(_L["pimage"], "Image")[1], "<unknown>"),
               command_line=_empty(block.take(_L["cmd"], "Cmd")[1], "<none>"))  # fmt: skip
    return row


def image(block: Block, m: re.Match[str]) -> dict[str, Any]:
    row = _base("ImageTelemetry", "image")
    pid = p.u64(m[1])
    row.update(actor_pid=pid, target_pid=pid, image_base=p.u64(m[2]), image_size=p.u64(m[3]))
    meta(block, "ImageTelemetry", row)
    row["actor_image"] = p.image(block.take(_L["process_image"], "processImage")[1])
    row["image_path"] = _empty(block.take(_L["ipath"], "Image path")[1], "<unknown>")
    block.take(_L["symbol"], "symbol")
    trust = block.take(_L["trust"], "Trust")
    row.update(is_system_mode=trust[1] == "1", is_signature_level_known=trust[2] == "1",
               signature_level=p.small(trust[3], 255), signature_type=p.small(trust[4], 255))  # fmt: skip
    return row


def registry(block: Block, m: re.Match[str]) -> dict[str, Any]:
    row = _base("RegistryTelemetry", "registry")
    row.update(operation=m[1], actor_pid=p.u64(m[2]), session_id=p.u32(m[3], 10), notify_class=p.small(m[5]))
    meta(block, "RegistryTelemetry", row)
    row["actor_image"] = p.image(block.take(_L["process_image"], "processImage")[1])
    row["key_path"] = _empty(block.take(_L["rpath"], "Path")[1], "<unknown>")
    row["value_name"] = _empty(block.take(_L["value"], "Value")[1], "<none>")
    data = block.take(_L["data"], "Data")
    row.update(data_type=p.u32(data[1], 10), data_size=p.u32(data[2], 10), is_high_value=data[3] == "1")
    return row


def detection(block: Block, m: re.Match[str]) -> dict[str, Any]:
    row = _base("DetectionTelemetry", "detection")
    row.update(detection_name=m[1], severity=p.small(m[2]), actor_pid=p.u64(m[3]), target_pid=p.u64(m[4]))
    meta(block, "DetectionTelemetry", row)
    row["actor_image"] = p.image(block.take(_L["process_image"], "processImage")[1])
    row["target_image"] = p.image(block.take(_L["target_image"], "targetImage")[1])
    corr = block.take(_L["corr"], "Corr")
    row.update(corr_flags=p.u32(corr[1]), corr_access_mask=p.u32(corr[3]), corr_age_ms=int(corr[4]),
               reason=_empty(block.take(_L["reason"], "Reason")[1], "<none>"))  # fmt: skip
    return row


def ti(block: Block, m: re.Match[str]) -> dict[str, Any]:
    name = None if m[1] == "<unnamed-ti-event>" else m[1]
    row: dict[str, Any] = {"family": "ti", "kind": p.ti_kind(name, None), "provider": THREAT_INTEL_PROVIDER_NAME,
                           "event_name": name}  # fmt: skip
    meta(block, m[1], row)
    actor = block.take(_L["ti_actor"], "Actor")
    target = block.take(_L["ti_target"], "Target")
    caller_pid, target_pid, tid, access = p.u64(actor[1]), p.u64(target[1]), p.u64(target[3]), p.u32(target[4])
    row.update(actor_pid=caller_pid or None, actor_image=p.image(actor[2]), target_pid=target_pid or None,
               target_image=p.image(target[2]), tid=tid or None, access_mask=access or None)  # fmt: skip
    if start := block.maybe(_L["start"]):
        row["start_address"] = p.u64(start[1])
    if apc := block.maybe(_L["apc"]):
        row["fields_json"] = json.dumps({"ApcRoutine": int(apc[1], 16)})
    while block.maybe(_L["signal"]):
        pass
    return row


def other(block: Block, m: re.Match[str]) -> dict[str, Any]:
    name = m[1]
    row = _base(name, "apc" if name == "ApcTelemetry" else "generic")
    meta(block, name, row)
    return row


PARSERS = {"HandleTelemetry": handle, "ThreadTelemetry": thread, "ProcessTelemetry": process,
           "ImageTelemetry": image, "RegistryTelemetry": registry, "DetectionTelemetry": detection, "ti": ti,
           "other": other}  # fmt: skip


def title(text: str) -> tuple[str, re.Match[str]] | None:
    """Which printer block a line opens, with its match."""
    if not text.startswith(TITLE_PREFIXES):
        return None
    for name, pattern in TITLES.items():
        if match := pattern.fullmatch(text):
            return name, match
    return None


def suppressed(m: re.Match[str], previous: dict[str, Any] | None, number: int) -> list[dict[str, Any]]:
    """The OPEN_KEY events a summary line counted: no header and no time; the fields the printer compared come
    from the summary and, when it agrees with it, the last printed OPEN_KEY block (session, data, image)."""
    count = int(m[7])
    if count > MAX_SUPPRESSED:
        raise DamagedError(f"+{count} similar suppressed is beyond any plausible count")
    row = _base("RegistryTelemetry", "registry")
    row.update(source_offset=number, operation=m[1], actor_pid=p.u64(m[2]), notify_class=p.small(m[4]),
               key_path=_empty(m[5], "<unknown>"), value_name=_empty(m[6], "<none>"))  # fmt: skip
    if previous is not None and all(
        ci(str(previous.get(k))) == ci(str(row[k])) for k in ("operation", "actor_pid", "notify_class", "key_path",
                                                              "value_name")):  # fmt: skip
        row.update({k: previous.get(k) for k in ("session_id", "data_type", "data_size", "is_high_value",
                                                 "actor_image")})  # fmt: skip
    return [row] * count  # one dict shared by every copy: nothing mutates rows after this


class State:
    """What a summary line refers to: the last printed registry block, while it is a suppressible OPEN_KEY."""

    def __init__(self) -> None:
        self.open_key: dict[str, Any] | None = None


def consume(cursor: Cursor, item: tuple[int, str], state: State) -> list[dict[str, Any] | Reject] | None:
    """The rows (or reject) of the printer block or summary line opened by `item`; None if it opens none."""
    text = item[1]
    if text.startswith("[REGISTRY] ") and (m := SUMMARY.fullmatch(text)):
        try:
            return suppressed(m, state.open_key, item[0])
        except (DamagedError, ValueError) as exc:
            return [reject_lines([item], f"registry summary line: {exc}")]
    if not text.startswith(TITLE_PREFIXES):
        return None
    span = cursor.span(item, lambda line: line.startswith("["))
    found = title(text)
    if found is None:
        return [reject_lines(span, "ETW printer block: the title line does not parse")]
    name, m = found
    block = Block(span)
    try:
        row = PARSERS[name](block, m)
        block.end()
        row["source_offset"] = item[0]
    except (DamagedError, ValueError, OverflowError) as exc:
        return [reject_lines(span, f"ETW printer {name} block: {exc}")]
    if name == "RegistryTelemetry":
        state.open_key = row if ci(row["operation"]) == "open_key" and not row["is_high_value"] else None
    return [row]

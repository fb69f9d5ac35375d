"""What every writer of Sleepwalker's text outputs shares: row access, which rows a component saw, clocks, symbols.

Rows come from case batches (`docs/case-rows.md`); NULL fields print as the printers print a property that was not
read: zero or empty (spec 4.5: "every property read defaults to zero").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from swk.kernel import names
from swk.kernel.abi import HANDLE_CLASS_ID, HandleFlag, ThreadFlag
from swk.kernel.clock import ns_to_filetime, ns_to_qpc

if TYPE_CHECKING:
    from swk.capture.outputs import OutputContext

MASK64 = (1 << 64) - 1
MASK32 = 0xFFFFFFFF
KERNEL_SPACE = 0xFFFF000000000000

IOCTL_KINDS = ("sleepwalker:etw:", "sleepwalker:ioctl:")  # rows that can be IOCTL records (with a sequence)
ETW_KINDS = ("sleepwalker:etw:", "ti:etw:")  # rows that were ETW events
CONTROLLER_KIND = "sleepwalker:controller:detection"
FAMILY_EVENT = {"handle": "HandleTelemetry", "thread": "ThreadTelemetry", "apc": "ApcTelemetry",
                "process": "ProcessTelemetry", "image": "ImageTelemetry", "registry": "RegistryTelemetry",
                "detection": "DetectionTelemetry"}  # fmt: skip


def rows(batch: pa.RecordBatch, columns: Iterable[str]) -> list[dict[str, Any]]:
    """The named columns of every row as dicts (absent columns as None; `ts` as Unix microseconds)."""
    wanted = list(dict.fromkeys(columns))
    names = batch.schema.names
    blank = [None] * batch.num_rows
    # Column by column, then zipped: several times faster than RecordBatch.to_pylist for wide rows.
    values = [(batch.column(c).cast(pa.int64()) if c == "ts" else batch.column(c)).to_pylist() if c in names else blank
              for c in wanted]  # fmt: skip
    return [dict(zip(wanted, row, strict=True)) for row in zip(*values, strict=True)]


def each(batches: Iterable[pa.RecordBatch], columns: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Rows of every batch, in order."""
    columns = list(columns)
    for batch in batches:
        yield from rows(batch, columns)


def is_ioctl_record(row: dict[str, Any]) -> bool:
    """A handle/thread row the driver also published as an IOCTL record (it carries the record's sequence)."""
    return (row["family"] in ("handle", "thread") and row["sequence"] is not None
            and (row["kind"] or "").startswith(IOCTL_KINDS))  # fmt: skip


def is_etw_event(row: dict[str, Any]) -> bool:
    """A row that was an ETW event of the Sleepwalker or Threat-Intelligence provider."""
    return (row["kind"] or "").startswith(ETW_KINDS)


def event_name(row: dict[str, Any]) -> str | None:
    """The TDH event name of an ETW row (the family's name when the row does not say)."""
    return row["event_name"] or FAMILY_EVENT.get(row["family"])


def u64(value: int | None) -> int:
    """A stored BIGINT (or NULL) as the unsigned 64-bit value the driver wrote."""
    return 0 if value is None else value & MASK64


def u32(value: int | None) -> int:
    """A stored value (or NULL) as an unsigned 32-bit field."""
    return 0 if value is None else value & MASK32


def fallback_text(address: int) -> str:
    """The spec's no-symbol renderings (4.1): `<null>`, `[kernel-address]`, `[unresolved]`."""
    if address == 0:
        return "<null>"
    return f"0x{address:016X} [kernel-address]" if address >= KERNEL_SPACE else f"0x{address:016X} [unresolved]"


def resolved(ctx: OutputContext, address: int, pid: int) -> str:
    """dbghelp's "resolved text" of an address as the host's viewer would have shown it (4.1 steps 1-2)."""
    address &= MASK64
    if address == 0:
        return "<null>"
    text = ctx.resolve(address, pid & MASK32) if ctx.resolve else None
    return text if text is not None else fallback_text(address)


def suite_address(ctx: OutputContext, address: int, pid: int) -> str:
    """The test suite's renderer: `0x%llX` then ` Module!Symbol+0xN` / ` [kernel-address]` / ` [unresolved]`."""
    address &= MASK64
    text = resolved(ctx, address, pid) if address else "[unresolved]"
    prefix = f"0x{address:016X} "
    return f"0x{address:X} {text[len(prefix) :] if text.startswith(prefix) else text}"


def base_name(path: str) -> str:
    """What follows the last backslash, or the whole text when nothing does (the printers' rule)."""
    cut = path.rfind("\\")
    return path[cut + 1 :] if cut >= 0 and cut + 1 < len(path) else path


def filetime(row: dict[str, Any], ctx: OutputContext) -> int:
    """The ETW header timestamp (FILETIME, spec 2.4) of a row: its own, else from `ts` as the ETL writer derives
    it (so the printer's `ts=` and a written .etl agree), else from its QPC."""
    if row["raw_clock"] is not None and row["clock"] == "filetime":
        return row["raw_clock"] & MASK64
    if row["ts"] is not None:
        return ns_to_filetime(row["ts"] * 1000)
    ns = event_ns(row, ctx)
    return ns_to_filetime(ns) if ns is not None else 0


def qpc(row: dict[str, Any], ctx: OutputContext) -> int:
    """The raw QPC value of an IOCTL record."""
    if row["raw_clock"] is not None and row["clock"] == "qpc":
        return row["raw_clock"]
    ns = event_ns(row, ctx)
    return ns_to_qpc(ns, ctx.qpc_frequency, ctx.boot_ns) if ns is not None else 0


def event_ns(row: dict[str, Any], ctx: OutputContext) -> int | None:
    """Unix ns of the event: from the host's QPC when the row holds it, else from `ts`."""
    if row["raw_clock"] is not None and row["clock"] == "qpc":
        value = row["raw_clock"]
        seconds, rest = divmod(value, ctx.qpc_frequency)
        return ctx.boot_ns + seconds * 1_000_000_000 + rest * 1_000_000_000 // ctx.qpc_frequency
    return row["ts"] * 1000 if row["ts"] is not None else None


def broker(row: dict[str, Any]) -> tuple[int, int, int]:
    """(PrimaryPid, SecondaryPid, EventProcessId) the controller put on the IPC event of a row (spec 7.4, 3.0)."""
    family, actor, target = row["family"], u64(row["actor_pid"]), u64(row["target_pid"])
    header = u32(row["header_pid"])
    if row["kind"] == CONTROLLER_KIND:
        primary = actor or target
        return primary, target, primary & MASK32
    if family in ("handle", "apc", "detection"):
        return actor, target, header
    if family in ("thread", "process", "image"):
        return target or actor, 0, header
    if family == "registry":
        return actor, 0, header
    return (u64(row["header_pid"]) or actor), 0, header  # TI and others: the ETW header pid [INF]


def client_pids(row: dict[str, Any]) -> tuple[int, int]:
    """The client's actor/target of a broker event: PrimaryPid if 1..0xFFFFFFFF else EventProcessId (4.6, 5)."""
    primary, secondary, event_pid = broker(row)
    actor = primary if 1 <= primary <= MASK32 else event_pid
    return actor, secondary if 1 <= secondary <= MASK32 else 0


def fields(row: dict[str, Any]) -> dict[str, Any]:
    """The row's `fields_json` as a dict (empty when absent or not an object)."""
    text = row.get("fields_json")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def sample_facts(row: dict[str, Any]) -> tuple[int, str, str]:
    """(size, entropy text, opcodes text) of the deep sample; text-sourced rows keep the printed values."""
    sample = row["deep_sample"]
    size = row["deep_sample_size"]
    if sample is not None:
        size = len(sample) if size is None else size
        return size, f"{names.entropy(sample):.3f}", names.opcodes(sample)
    extra = fields(row)
    size = size or 0
    return size, extra.get("deepSampleEntropy", "0.000"), extra.get("deepSampleOpcodes", "<none>")


def frames(row: dict[str, Any]) -> list[int]:
    """Frame addresses as unsigned values, innermost first."""
    return [u64(f["address"]) for f in row["frames"] or ()]


def handle_flags(row: dict[str, Any]) -> int:
    """The record's Flags: as given, else what the text source printed, else derived from the row's booleans."""
    if row["flags"] is not None:
        return u32(row["flags"])
    printed = fields(row).get("flags")
    if isinstance(printed, int):
        return printed & MASK32
    bits = ((HandleFlag.EXEC_PROTECT, "exec_protect"), (HandleFlag.FROM_NTDLL, "from_ntdll"),
            (HandleFlag.FROM_EXE, "from_exe"), (HandleFlag.THREAD_OBJECT, "is_thread_object"),
            (HandleFlag.DUPLICATE_OPERATION, "is_duplicate"))  # fmt: skip
    flags = sum(int(bit) for bit, name in bits if row.get(name))
    return flags | (HandleFlag.MEMORY_RELATED if u32(row["access_mask"]) & 0x1FFFFF else 0)


def thread_flags(row: dict[str, Any]) -> int:
    """The record's Flags: as given, else derived from the row's booleans and correlation flags."""
    if row["flags"] is not None:
        return u32(row["flags"])
    corr = u32(row["corr_flags"])
    bits = ((ThreadFlag.GOT_START, row["got_start"]), (ThreadFlag.GOT_RANGE, row["got_range"]),
            (ThreadFlag.REMOTE_CREATOR, row["is_remote"]), (ThreadFlag.OUTSIDE_MAIN_IMG, row["outside_main_image"]),
            (ThreadFlag.CORRELATED_INTENT, corr), (ThreadFlag.CORR_MEMORY, corr & 1),
            (ThreadFlag.CORR_THREAD_CTX, corr & 2), (ThreadFlag.CORR_DUP_HANDLE, corr & 4),
            (ThreadFlag.START_REGION_EXEC, row["start_region_exec"] if row["start_region_exec"] is not None
             else u32(row["start_region_protect"]) & 0xF0))  # fmt: skip
    return sum(int(bit) for bit, on in bits if on)


def class_id(row: dict[str, Any]) -> int:
    """The kernel ClassId (from the ETW class string when the row has no id)."""
    if row["class_id"] is not None:
        return row["class_id"]
    return HANDLE_CLASS_ID.get(row["class_name"] or "", 0)


def origin(row: dict[str, Any]) -> int:
    """OriginAddress: the row's, else its first frame (the driver sets it to Frames[0])."""
    if row["origin_address"] is not None:
        return u64(row["origin_address"])
    return next(iter(frames(row)), 0)


@contextmanager
def text_output(path: Path, newline: str = "\n") -> Iterator[list[str]]:
    """Collect lines, written (UTF-8, `newline` after each) to `path` atomically in chunks of lines."""
    from swk.capture.outputs import atomic_output

    with atomic_output(path) as fh:
        lines = _Lines(fh, newline)
        yield lines
        lines.flush()


class _Lines(list):
    """A list of lines that writes itself out every few thousand lines, so memory stays flat."""

    def __init__(self, fh: Any, newline: str) -> None:
        super().__init__()
        self.fh, self.newline = fh, newline

    def append(self, line: str) -> None:
        super().append(line)
        if len(self) >= 8192:
            self.flush()

    def extend(self, lines: Iterable[str]) -> None:
        super().extend(lines)
        if len(self) >= 8192:
            self.flush()

    def flush(self) -> None:
        if self:
            self.fh.write((self.newline.join(self) + self.newline).encode("utf-8", "surrogateescape"))
            self.clear()

"""Round trips through every text writer and its reader: rows -> text -> rows keeps every column the text carries,
and text -> rows -> text gives the same bytes back (the rows hold everything the text showed)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from swk.capture import load
from swk.capture.base import ReadContext, Reject
from swk.capture.outputs import WRITERS, OutputContext
from swk.capture.text import sample
from swk.store.schema import EVENTS

NTDLL = 0x7FFD_F740_0000
TEXT_WRITERS = ("jsonl", "console", "suite", "printer", "controller")


def context(**overrides: object) -> OutputContext:
    def resolve(address: int, pid: int) -> str | None:
        return f"ntdll!NtOpenProcess+0x{address - NTDLL:X}" if NTDLL <= address < NTDLL + 0x100000 else None

    images = {6700: r"C:\Lab\inject.exe", 2576: r"C:\Windows\explorer.exe", 612: ""}
    ctx = OutputContext(resolve=resolve, process_image=images.get, query_image={3864: r"\Device\X\notepad.exe"}.get,
                        cpu=lambda tid, filetime: tid % 4, boot_ns=sample.BOOT_NS, client_latency_us=1500)  # fmt: skip
    for key, value in overrides.items():
        setattr(ctx, key, value)
    return ctx


@pytest.fixture(scope="module")
def source() -> list[pa.RecordBatch]:
    return list(sample.batches(3000, seed=5, batch_rows=700))


def source_rows(batches: list[pa.RecordBatch]) -> list[dict]:
    return [{c: r.get(c) for c in EVENTS.names} for b in batches for r in b.to_pylist()]


def read(path: Path, fmt: str) -> tuple[list[pa.RecordBatch], list[Reject], ReadContext]:
    ctx = ReadContext()
    out = list(load(fmt).read(path, ctx))
    return [o for o in out if isinstance(o, pa.RecordBatch)], [o for o in out if isinstance(o, Reject)], ctx


@pytest.mark.parametrize("writer", TEXT_WRITERS)
def test_text_rows_text_gives_the_same_bytes(tmp_path: Path, source: list[pa.RecordBatch], writer: str) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    count = WRITERS[writer](source, first, context())
    assert count > 0
    batches, rejects, ctx = read(first, writer)
    assert rejects == [] and ctx.warnings == []
    # The rows already hold the client's write time: writing them again adds no second latency.
    WRITERS[writer](batches, second, context(client_latency_us=0))
    assert second.read_bytes() == first.read_bytes()


def pairs(tmp_path: Path, source: list[pa.RecordBatch], writer: str, keep: object) -> list[tuple[dict, dict]]:
    path = tmp_path / writer
    WRITERS[writer](source, path, context())
    batches, rejects, _ = read(path, writer)
    assert rejects == []
    back = source_rows(batches)
    expected = [r for r in source_rows(source) if keep(r)]
    assert len(back) == len(expected)
    return list(zip(expected, back, strict=True))


def same(a: dict, b: dict, columns: str) -> None:
    assert {c: b[c] for c in columns.split()} == {c: a[c] for c in columns.split()}


HANDLE = "actor_pid target_pid access_mask origin_address"
THREAD = "target_pid tid actor_pid flags start_address image_base"


def test_jsonl_rows_keep_what_the_log_carries(tmp_path: Path, source: list[pa.RecordBatch]) -> None:
    path = tmp_path / "log.jsonl"
    lines = WRITERS["jsonl"](source, path, context())
    batches, rejects, _ = read(path, "jsonl")
    back = source_rows(batches)
    assert rejects == [] and len(back) == lines
    it = iter(back)
    for row in source_rows(source):
        written_us = (row["ts"] * 1000 // 1000 + 1500) // 1000 * 1000 if isinstance(row["ts"], int) else None
        broker = next(it)
        assert broker["clock"] == "client-write" and broker["event_name"] == row["event_name"]
        if written_us is None:
            written_us = broker["raw_clock"]
        assert broker["raw_clock"] == written_us
        if row["family"] == "detection":
            same(row, broker, "family kind detection_name severity actor_pid target_pid")
        elif row["family"] == "ti":
            same(row, broker, "family kind task actor_pid")
        elif row["family"] in ("handle", "apc"):
            same(row, broker, "family kind actor_pid target_pid")
        elif row["family"] in ("thread", "process"):
            same(row, broker, "family kind target_pid")
            assert broker["actor_pid"] is None
        if row["sequence"] is not None:  # the IOCTL record's own line follows the ETW event's
            ioctl = next(it)
            assert ioctl["kind"] == f"sleepwalker:ioctl:{row['family']}"
            same(row, ioctl, f"sequence flags {HANDLE if row['family'] == 'handle' else THREAD}")
    assert next(it, None) is None


def test_client_console_rows_keep_what_the_console_carries(tmp_path: Path, source: list[pa.RecordBatch]) -> None:
    for row, back in pairs(tmp_path, source, "console", lambda r: r["sequence"] is not None or r["family"] in
                           ("detection", "ti")):  # fmt: skip
        assert back["ts"] is None and back["class_id"] is None
        if row["family"] == "handle":
            same(row, back, f"sequence {HANDLE} origin_path origin_protect exec_protect from_ntdll from_exe "
                            "is_thread_object is_duplicate status_open_process deep_alloc_base deep_sample_size "
                            "frame_count")  # fmt: skip
            assert back["flags"] == (0 if row["flags"] == 0 else None)
            assert [f["address"] for f in back["frames"]] == [f["address"] for f in row["frames"]]
        elif row["family"] == "thread":
            same(row, back, f"sequence {THREAD} image_size is_remote outside_main_image corr_flags start_region_exec")
        elif row["family"] == "detection":
            same(row, back, "kind detection_name severity actor_pid target_pid")
        else:
            same(row, back, "kind task actor_pid")


def test_suite_rows_keep_what_the_suite_carries(tmp_path: Path, source: list[pa.RecordBatch]) -> None:
    for row, back in pairs(tmp_path, source, "suite", lambda r: r["sequence"] is not None):
        same(row, back, "family sequence stream_mask raw_clock clock frame_count")
        if row["family"] == "handle":
            same(row, back, f"{HANDLE} class_id origin_path origin_protect status_open_process status_section_name "
                            "exec_protect from_ntdll from_exe is_thread_object is_duplicate")  # fmt: skip
        else:
            same(row, back, f"{THREAD} image_size got_start got_range is_remote outside_main_image corr_flags")


def test_printer_rows_keep_what_the_blocks_carry(tmp_path: Path, source: list[pa.RecordBatch]) -> None:
    suppressed = 0
    for row, back in pairs(tmp_path, source, "printer", lambda r: r["kind"] != "sleepwalker:controller:detection"):
        same(row, back, "family event_name")
        assert back["kind"] == (row["kind"] if row["event_name"] else "ti:etw:unknown")  # the block shows no task
        if back["ts"] is None:  # an OPEN_KEY the printer counted instead of printing
            suppressed += 1
            same(row, back, "operation actor_pid session_id notify_class data_type data_size key_path value_name")
            continue
        same(row, back, "header_pid header_tid level opcode etw_version")
        assert back["clock"] == "filetime" and back["ts"] == row["ts"]
        columns = {
            "handle": f"{HANDLE} origin_path origin_protect exec_protect from_ntdll from_exe frame_count "
                      "status_open_process deep_alloc_base deep_region_size deep_sample_size",
            "thread": f"{THREAD.replace('flags ', '')} image_size is_remote outside_main_image got_start corr_flags "
                      "corr_access_mask corr_age_ms start_region_protect start_region_type start_region_exec",
            "process": "is_create target_pid actor_pid parent_pid creator_pid creator_tid process_start_key image_path "
                       "command_line",
            "image": "actor_pid image_base image_size signature_level image_path",
            "registry": "operation actor_pid notify_class data_size is_high_value key_path value_name",
            "detection": "detection_name severity actor_pid target_pid corr_flags reason",
            "ti": "header_pid", "apc": "header_pid",
        }[row["family"]]  # fmt: skip
        same(row, back, columns)
        if row["family"] == "handle" and (row["deep_alloc_base"] or row["deep_region_size"]):
            same(row, back, "deep_region_protect deep_region_state deep_region_type")  # printed only then
        if row["family"] == "handle":  # the printer shows the kernel class, or upgrades UNKNOWN by its heuristic [Q]
            assert back["class_id"] in (None, row["class_id"])
            assert row["class_id"] == 0 or back["class_name"] == row["class_name"]
            assert back["class_id"] is not None or back["class_name"] != "UNKNOWN-ORIGIN"
    assert suppressed > 10


def test_controller_rows_keep_their_marks(tmp_path: Path, source: list[pa.RecordBatch]) -> None:
    for row, back in pairs(tmp_path, source, "controller", lambda r: r["kind"] == "sleepwalker:controller:detection"):
        same(row, back, "family kind detection_name severity actor_pid target_pid marks")

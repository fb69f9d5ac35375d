"""The console formats' own quirks: status and check lines skipped and counted, noise inside blocks, damaged blocks
rejected at their title's line, mixed client/printer consoles, UTF-16 captures, the printer's summary line, the
controller's other lines."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from swk.capture import load
from swk.capture.base import ReadContext, Reject
from swk.store.schema import EVENTS

HANDLE_BLOCK = """[SLEEPWALKER][HANDLE] seq=7
class=LEGITIMATE-SYSCALL callerPid=0000000000000264 targetPid=00000000000002D8 access=0x00001000
origin=0x00007FFDF74ADC14 (ntdll!NtOpenProcess+0x14)
path=\\Device\\HarddiskVolume3\\Windows\\System32\\ntdll.dll
protect=0x00000020
flags=<none>
statusOpen=0x00000000 statusBasic=0x00000000 statusSection=0xC0000001
stackFrames=1
  #0 0x00007FFDF74ADC14 (ntdll!NtOpenProcess+0x14)
[WARN] fromNtdll flag mismatch: flag=0 resolvedNtdll=1

"""
STATUS = """[*] loaded config: C:\\lab\\policy.yaml
[*] JSONL logging enabled file=events.swk.jsonl highPriority=<disabled> minSeverity=4
[*] Driver channel: service-broker
[*] Attached target=3864 streams=0x00000007 scope=both (strict target mode). Ctrl+C to stop.
[WARN] config ignored key 'bogus' at policy.yaml:3
[INFO] symbol resolver: kernel modules loaded=180/181
"""


def read(tmp_path: Path, fmt: str, data: str | bytes) -> tuple[list[dict], list[Reject], ReadContext]:
    path = tmp_path / f"{fmt}.log"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    ctx = ReadContext()
    out = list(load(fmt).read(path, ctx))
    rows = [{c: r.get(c) for c in EVENTS.names} for b in out if isinstance(b, pa.RecordBatch) for r in b.to_pylist()]
    return rows, [o for o in out if isinstance(o, Reject)], ctx


def test_client_status_lines_are_skipped_and_warnings_inside_a_block_too(tmp_path: Path) -> None:
    noisy = HANDLE_BLOCK.replace("stackFrames=1\n", "[WARN] symbol resolver: OpenProcess failed for pid=612 err=5\n"
                                 "stackFrames=1\n")  # fmt: skip
    rows, rejects, ctx = read(tmp_path, "console", STATUS + HANDLE_BLOCK + noisy + "[*] Cancelled.\n")
    assert rejects == [] and ctx.skipped == 6 + 1 + 1
    assert [r["source_offset"] for r in rows] == [7, 18]
    row = rows[0]
    assert (row["flags"], row["class_name"], row["class_id"], row["status_section_name"]) == (
        0,
        "LEGITIMATE-SYSCALL",
        None,
        -0x3FFFFFFF,
    )  # `flags=<none>`: the whole value was 0
    assert (row["deep_alloc_base"], row["deep_region_size"], row["deep_sample_size"]) == (0, 0, 0)
    assert row["deep_region_state"] is None and row["fields_json"] is None


def test_a_damaged_client_block_is_one_reject_and_reading_goes_on(tmp_path: Path) -> None:
    bad_flags = HANDLE_BLOCK.replace("flags=<none>", "flags=ExecProtect Bogus ")
    bad_warn = HANDLE_BLOCK.replace("flag=0 resolvedNtdll=1", "flag=1 resolvedNtdll=1")  # disagrees with flags=
    uplink = "\n[ETW-BROKER] detection=X severity=4 event=DetectionTelemetry actor=12 target=nope\n"
    rows, rejects, ctx = read(tmp_path, "console", HANDLE_BLOCK + bad_flags + bad_warn + uplink + HANDLE_BLOCK)
    assert [r["source_offset"] for r in rows] == [1, 36]
    assert [(r.offset, r.reason) for r in rejects] == [
        (12, "client IOCTL block: unknown flag name 'Bogus'"),
        (23, "client IOCTL block: the fromNtdll warning disagrees with the flags line"),
        (35, "client uplink line: the uplink line does not parse"),
    ]  # fmt: skip
    assert rejects[0].raw.startswith(b"[SLEEPWALKER][HANDLE] seq=7\nclass=") and ctx.skipped == 0


def test_utf16_capture_with_crlf_reads_like_utf8(tmp_path: Path) -> None:
    text = STATUS + HANDLE_BLOCK
    utf8, _, _ = read(tmp_path, "console", text)
    utf16, rejects, _ = read(tmp_path, "console", b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le"))
    assert rejects == [] and utf16 == utf8


def test_printer_blocks_on_a_client_console(tmp_path: Path) -> None:
    printer = ("\n[ETW] event=ApcTelemetry (no formatter)\n"
               "Meta   event=ApcTelemetry pid=6700 tid=6928 cpu=2 lvl=4 op=0 ver=0 ts=0x01DCA9B2C4F00000 dt=0x1000\n")  # fmt: skip
    rows, rejects, _ = read(tmp_path, "console", HANDLE_BLOCK + printer + HANDLE_BLOCK)
    assert rejects == [] and [r["kind"] for r in rows] == ["sleepwalker:ioctl:handle", "sleepwalker:etw:ApcTelemetry",
                                                           "sleepwalker:ioctl:handle"]  # fmt: skip


def test_a_summary_line_with_no_block_before_it_and_an_implausible_count(tmp_path: Path) -> None:
    summary = ("[REGISTRY] op=OPEN_KEY pid=0000000000000A10 class=Other(28) path=\\REGISTRY\\MACHINE\\SOFTWARE value=<none>"
               " (+{} similar suppressed)\n")  # fmt: skip
    other = (
        "\n[ETW] event=Custom (no formatter)\nMeta   event=Custom pid=4 tid=8 cpu=0 lvl=5 op=1 ver=2 ts=0x0 dt=0x0\n"
    )
    rows, rejects, _ = read(tmp_path, "printer", summary.format(3) + summary.format(10**9) + other.replace("0x0 d", "0x"
                            "01DCA9B2C4F00000 d"))  # fmt: skip
    assert [r.offset for r in rejects] == [2] and "beyond any plausible count" in rejects[0].reason
    assert len(rows) == 4 and rows[0]["session_id"] is None and rows[0]["key_path"] == "\\REGISTRY\\MACHINE\\SOFTWARE"
    assert (rows[3]["family"], rows[3]["kind"], rows[3]["level"], rows[3]["opcode"], rows[3]["etw_version"]) == (
        "generic",
        "sleepwalker:etw:Custom",
        5,
        1,
        2,
    )


def test_suite_check_lines_are_skipped_and_unknown_records_rejected(tmp_path: Path) -> None:
    text = """[INFO] suite knobs requireKernelCorrelation=0 requireApcTelemetry=0
[PASS][T0001] opened control device (broker handshake) [+1.000ms suite=1.000ms +100 cyc]
startedUtc=2026-03-02T10:00:00Z

[IOCTL][EVENT] seq=1 type=UNKNOWN(0) stream=0x00000000(<none>) size=768 qpc=5
[IOCTL][UNKNOWN] event type=0

[IOCTL][EVENT] seq=2 type=THREAD stream=0x00000004(THREAD) size=768 qpc=-7
[IOCTL][THREAD] process=1 thread=2 creator=1
Flags  <none>
Start  0x0 [unresolved]
Image  0x0 [unresolved]
Size   imageSize=0x0
Stack  frames=0
       <none>

[IOCTL][EVENT] seq=3 type=HANDLE stream=0x00000001(HANDLE|MEMORY) size=768 qpc=1
[FAIL][T0026] received handle telemetry via IOCTL
[OK] SleepwalkerTestSuite complete. tests-passed=1/2 tests-failed=1 tests-skipped=0 polls=3
"""
    rows, rejects, ctx = read(tmp_path, "suite", text)
    assert [(r.offset, r.reason) for r in rejects] == [
        (5, "test-suite record block: a UNKNOWN(0) record: the test suite printed none of its fields"),
        (17, "test-suite record block: stream names 'HANDLE|MEMORY' disagree with 0x00000001"),
    ]  # fmt: skip
    (row,) = rows
    assert (row["flags"], row["raw_clock"], row["frames"], row["is_remote"], row["start_address"]) == (0, -7, [],
                                                                                                      False, 0)  # fmt: skip
    assert ctx.skipped == 5


def test_controller_log_other_lines_and_drops(tmp_path: Path) -> None:
    text = """[*] SleepwlkrController: ETW session started. threat-intel=enabled tiEnableErr=0
[IPC] client connected pid=5000 session=1
[MON] dynamic subscription add clientPid=5000 sourcePid=6700 targetPid=3864 depth=1 mask=0x00000007
[ETW][SYNTH] detection=PROCESS_HOLLOWING_TXF_SUSPECT_CHAIN severity=8 actor=6700 target=3864 marks=0x37F
[ETW][SYNTH] detection=PROCESS_HOLLOWING_MARK_CHAIN_STRONG severity=7 actor=6700 target=3864 marks=0xZZ
[IPC] client disconnected pid=5000 session=1 subscriptions=2 queueDepth=0 dropped=17 etwQueueDepth=0 etwDropped=3 lastErr=0
"""
    rows, rejects, ctx = read(tmp_path, "controller", text)
    assert [(r["source_offset"], r["marks"], r["severity"], r["kind"]) for r in rows] == [
        (4, 0x37F, 8, "sleepwalker:controller:detection")
    ]
    assert [r.offset for r in rejects] == [5] and ctx.skipped == 4
    assert ctx.warnings == ["line 6: the controller dropped 17 records and 3 ETW events for client pid 5000"]

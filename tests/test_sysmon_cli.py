"""`swk ingest` and `swk formats` with Windows event logs: sniffed formats, reconciled counts, one-line errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

from click.testing import CliRunner
from evtx import PyEvtxParser

from swk import capture
from swk.capture.sysmon.samples import PROCESS_ACCESS, REMOTE_THREAD, otrf_line
from swk.cli import cli
from swk.store.reader import open_case

SAMPLE = "evtx-attack-samples/Defense Evasion/de_unmanagedpowershell_psinject_sysmon_7_8_10.evtx"


def test_formats_are_registered_in_sniffing_order():
    names = list(capture.FORMATS)
    assert names.index("evtx") == names.index("ioctl") + 1
    assert names.index("winlog-jsonl") == names.index("jsonl") + 1
    result = CliRunner().invoke(cli, ["formats"])
    assert "evtx       Windows event logs (.evtx)" in result.stdout
    assert "winlog-jsonl Windows event logs as JSON lines" in result.stdout


def test_damaged_inputs_ingest_with_reconciled_counts(shared_data, tmp_path):
    with (shared_data / SAMPLE).open("rb") as fh:
        records = sum(1 for _ in PyEvtxParser(fh).records())
    data = bytearray((shared_data / SAMPLE).read_bytes())
    data[4096 + 512 + 24] = 0xFF  # the first record's BinXML
    evtx = tmp_path / "damaged.evtx"
    evtx.write_bytes(bytes(data))
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr("events.json", b"\n".join([otrf_line(10, PROCESS_ACCESS), b"{cut", otrf_line(8, REMOTE_THREAD)]))
    out = tmp_path / "case.parquet"
    result = CliRunner().invoke(cli, ["ingest", str(evtx), str(export), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{evtx}: evtx (sniffed)" in result.stderr and f"{export}: winlog-jsonl (sniffed)" in result.stderr
    assert f"{export}: read 3, written 2, rejected 1" in result.stderr
    inputs = {Path(i["path"]).name: i for i in open_case(out).manifest["inputs"]}
    assert (inputs["damaged.evtx"]["rejected"], inputs["damaged.evtx"]["written"]) == (1, records - 1)
    for entry in inputs.values():
        assert entry["read"] == entry["written"] + entry["rejected"]


def test_forcing_a_format_on_the_wrong_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    result = CliRunner().invoke(cli, ["ingest", str(path), "--format", "evtx", "-o", str(tmp_path / "c.parquet")])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (f"Error: {path} @0x00000000: file header magic 68 65 6c 6c 6f 0a: not an EVTX file "
                             "(ElfFile) (check the file, or pass --format to pick another reader)")  # fmt: skip

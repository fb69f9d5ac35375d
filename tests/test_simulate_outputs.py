"""What a run writes besides the case: Sleepwalker's own outputs, the IOCTL records that ingest cleanly, the CLI."""

from __future__ import annotations

import json

import duckdb
import pytest
from click.testing import CliRunner

from swk.capture.ingest import Options as IngestOptions
from swk.capture.ingest import ingest
from swk.capture.simulate import SCENARIOS, Options, simulate
from swk.cli import cli
from swk.store.reader import open_case

ALL = ("ioctl", "jsonl", "console", "printer", "suite", "controller", "etl")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("formats")
    return simulate(out, Options(events=8_000, seed=11, formats=ALL))


def test_every_format_is_written(run):
    # the client's JSONL logging writes its high-priority file beside the main one
    assert set(run.outputs) == {*ALL, "jsonl_high_priority"}
    assert run.outputs["jsonl_high_priority"].name == "high_priority.swk.jsonl"
    assert all(path.stat().st_size > 0 for path in run.outputs.values())


def test_records_ingest_with_zero_rejects_and_match_the_case(run, tmp_path):
    manifest = ingest([run.outputs["ioctl"]], tmp_path / "r.parquet", IngestOptions(host="X", boot_time=run.boot_time))
    published = duckdb.sql(f"select count(*) from '{run.case}' where sequence is not null").fetchall()[0][0]
    assert manifest["rejects"] == 0 and manifest["rows"] == published > 1000
    # the same records, on the same clock: ingested ts equal the simulated ts, sequence for sequence
    mismatched = duckdb.sql(f"""
        select count(*) from '{tmp_path / "r.parquet"}' r join '{run.case}' c using (sequence)
        where r.ts <> c.ts or r.actor_pid <> c.actor_pid or r.target_pid <> c.target_pid or r.flags <> c.flags
    """).fetchall()[0][0]  # fmt: skip
    assert mismatched == 0


def test_ioctl_records_need_only_their_columns(run):
    # the run reads only `outputs.columns("ioctl")` of the case: every column records_from_batch reads must be there
    import pyarrow.parquet as pq

    from swk.capture.ioctl_encode import records_from_batch
    from swk.capture.outputs import columns

    table = pq.read_table(run.case).combine_chunks()
    every = records_from_batch(table.to_batches()[0])
    assert len(every) > 1000
    assert records_from_batch(table.select(columns("ioctl")).to_batches()[0]).tobytes() == every.tobytes()


def test_streamed_ioctl_records_are_those_of_the_case_read_back(run, tmp_path):
    # the run encodes the records on its sink thread from the batches it writes; the file must be what the writer
    # makes of the committed case
    import pyarrow.parquet as pq

    from swk.capture.outputs import WRITERS, OutputContext, columns

    boot_ns = int(run.boot_time.timestamp()) * 10**9 + run.boot_time.microsecond * 1000
    batches = pq.ParquetFile(run.case).iter_batches(batch_size=1000, columns=columns("ioctl"))
    count = WRITERS["ioctl"](batches, tmp_path / "events.bin", OutputContext(boot_ns=boot_ns))
    assert count > 1000
    assert (tmp_path / "events.bin").read_bytes() == run.outputs["ioctl"].read_bytes()


def test_a_failed_run_leaves_no_ioctl_file(tmp_path, monkeypatch):
    from swk.capture.simulate import run as runmodule

    def fail(*_args, **_kwargs):
        raise RuntimeError("scenario failed")

    monkeypatch.setattr(runmodule, "build", fail)
    with pytest.raises(RuntimeError, match="scenario failed"):
        simulate(tmp_path, Options(events=0, scenarios=("remote-apc",), formats=("ioctl",)))
    assert not any(p.name.startswith(("events.bin", ".events.bin")) for p in tmp_path.iterdir())


def test_jsonl_lines_and_symbols(run):
    lines = [json.loads(line) for line in run.outputs["jsonl"].read_text().splitlines()]
    assert {"ioctl", "sleepwalker-broker"} <= {line["category"] for line in lines}
    assert "ntdll!NtOpenProcess+0x14" in run.outputs["console"].read_text()  # resolved from the simulated modules


def test_manifest_records_the_simulation(run):
    extra = open_case(run.case).manifest["extra"]["simulation"]
    assert {"seed", "scenarios", "boot_time", "qpc_frequency", "host"} <= set(extra)
    assert extra["scenarios"] == list(SCENARIOS) and extra["qpc_frequency"] == 10_000_000


def test_cli_list_and_run(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(cli, ["simulate", "--list"])
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) == len(SCENARIOS)
    assert listed.stdout.splitlines()[0].split()[:2] == ["crt-shellcode", "T1055.002"]
    done = runner.invoke(cli, ["simulate", "run-key", "-o", str(tmp_path), "--events", "0", "--formats", "jsonl"])
    assert done.exit_code == 0, done.stderr
    assert (tmp_path / "case.parquet").exists() and (tmp_path / "events.swk.jsonl").exists()
    assert "HIGH_VALUE_REGISTRY_ACTIVITY" in done.stderr
    bad = runner.invoke(cli, ["simulate", "no-such-technique", "-o", str(tmp_path)])
    assert bad.exit_code == 1 and "unknown scenario no-such-technique" in bad.stderr
    assert runner.invoke(cli, ["simulate", "run-key"]).exit_code == 2  # -o is required to run

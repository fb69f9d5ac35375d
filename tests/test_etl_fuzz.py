"""Truncated and bit-flipped .etl files never raise: a clean case with rejects where the damage is, or WrongFormat."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from swk.capture.base import ReadContext, Reject
from swk.capture.etl import reader, sample, writer
from swk.capture.outputs import OutputContext
from swk.errors import WrongFormat
from swk.testdata import shared_data

DATA = shared_data() / "etl"


def consume(path: Path) -> tuple[int, list[Reject]]:
    rows, rejects = 0, []
    try:
        for item in reader.read(path, ReadContext()):
            if isinstance(item, Reject):
                rejects.append(item)
            else:
                rows += item.num_rows
    except WrongFormat as exc:
        assert "\n" not in exc.one_line()
        return -1, []
    return rows, rejects


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[bytes]:
    made = tmp_path_factory.mktemp("fuzz") / "sw.etl"
    writer.write(sample.batches(600, seed=11), made, OutputContext(boot_ns=1_772_400_000 * 10**9))
    names = ["AMSITrace.etl", "lxcore_kernel.etl", "ShutdownPerfDiagLogger.etl"]
    return [made.read_bytes()] + [(DATA / n).read_bytes() for n in names]


@pytest.mark.slow
def test_truncation_at_200_offsets(inputs, tmp_path):
    rng = random.Random(1)
    path = tmp_path / "cut.etl"
    for data in inputs:
        for cut in sorted(rng.sample(range(1, len(data)), 200 // len(inputs))):
            path.write_bytes(data[:cut])
            rows, rejects = consume(path)
            if rows >= 0:
                assert all(0 <= r.offset <= cut for r in rejects)
                assert rejects and rejects[-1].offset <= cut  # a cut inside a buffer always says so


@pytest.mark.slow
def test_flipped_bytes(inputs, tmp_path):
    rng = random.Random(2)
    path = tmp_path / "flip.etl"
    for data in inputs:
        for _ in range(50):
            damaged = bytearray(data)
            for _ in range(rng.randint(1, 20)):
                damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
            path.write_bytes(bytes(damaged))
            _, rejects = consume(path)
            assert all(0 <= r.offset < len(data) + 65_536 and r.reason for r in rejects)

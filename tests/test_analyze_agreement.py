"""Row-for-row agreement of the SQL views with `swk.kernel.model.analyze(rows, table="per-key")` on every generator
scenario alone, on all of them mixed with benign noise, and on dense random cases built around the floor-ms edges.
Every field of docs/detections.md section 11 must be identical; a difference is a bug in one of the two."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from swk.analyze import engine
from swk.analyze.queries import COLUMNS
from swk.analyze.testing import T0_US, write_case
from swk.capture.simulate import SCENARIOS, Options, case_rows, simulate
from swk.kernel import model


def sql_table(case: Path) -> list[dict[str, Any]]:
    con = engine.connect(case)
    out = []
    for values in con.execute(f"SELECT {', '.join(COLUMNS)} FROM detections ORDER BY id").fetchall():
        row = dict(zip(COLUMNS, values, strict=True))
        for name in ("ts", "first_ts", "last_ts"):
            row[name] = int(row[name].timestamp()) * 1_000_000 + row[name].microsecond
        row["evidence"] = tuple(row["evidence"])
        out.append(row)
    return out


def model_table(case: Path) -> list[dict[str, Any]]:
    return [{c: getattr(d, c) for c in COLUMNS} for d in model.analyze(case_rows(case), table="per-key")]


def assert_same(case: Path) -> list[dict[str, Any]]:
    sql, replay = sql_table(case), model_table(case)
    differing = [(a, b) for a, b in zip(sql, replay, strict=False) if a != b]
    assert len(sql) == len(replay), f"sql {len(sql)} rows, model {len(replay)} rows"
    assert not differing, f"{len(differing)} differing rows, first: sql {differing[0][0]} model {differing[0][1]}"
    return sql


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_alone(tmp_path, name):
    result = simulate(tmp_path, Options(seed=1, scenarios=(name,), benign=False, events=2_000))
    table = assert_same(result.case)
    raised = {d["rule"] for d in table if d["status"] != "live-only"}
    assert raised >= {rule for rule in SCENARIOS[name].expects if not rule.startswith("DRIVER_DISPATCH")}


def test_every_scenario_mixed_with_benign_noise(tmp_path):
    result = simulate(tmp_path, Options(seed=7, events=30_000))
    table = assert_same(result.case)
    statuses = {d["status"] for d in table}
    assert {"confirmed", "live-only"} <= statuses  # the live driver's table quirks and tamper rows
    assert len({d["rule"] for d in table}) >= 15


EDGES_MS = (0, 1.0, 999.999, 1000, 1001, 1999, 2000, 2001, 2999, 2999.999, 3000, 3001, 29999, 30000, 30000.999,
            30001, 60000, 60001)  # fmt: skip


def _random_rows(seed: int, n: int) -> list[dict[str, Any]]:
    """Few pids, times stacked on the window and cooldown edges, every family the rules read."""
    rng = random.Random(seed)
    rows, base = [], 0.0
    for _ in range(n):
        base += rng.choice((0, 0, 0.001, 1, 500))
        ms = base + rng.choice(EDGES_MS) * rng.choice((0, 0, 1))
        actor, target = rng.choice((100, 104, 0)), rng.choice((100, 104, 2056, 8))
        family = rng.choice(("handle", "handle", "thread", "thread", "apc", "image", "registry", "ti", "detection"))
        row: dict[str, Any] = {"family": family, "ms": ms, "actor_pid": actor, "target_pid": target}
        if family == "handle":
            row.update(access_mask=rng.choice((0x10, 0x12, 0x1FFFFF, 0x1000)), class_id=rng.choice((1, 2)),
                       flags=rng.choice((None, 0x3C600, 0x3CE00, 0x34600)),
                       is_thread_object=rng.choice((True, False, None)))  # fmt: skip
        elif family == "thread":
            row.update(kind=rng.choice(("sleepwalker:etw:ThreadTelemetry", "sleepwalker:ioctl:thread")),
                       corr_flags=rng.choice((None, 0, 1, 2, 4, 3, 5, 7)),
                       corr_access_mask=rng.choice((None, 0, 0x20, 0x1FFFFF)), corr_age_ms=rng.choice((None, 0, 9)),
                       outside_main_image=rng.choice((True, False, None)), got_start=True, start_region_exec=True,
                       start_region_status=0, start_region_type=rng.choice((0x1000000, 0x20000, None)),
                       start_region_protect=rng.choice((0x20, 0x40, 0x04)), start_address=rng.choice((0x10000, -16)),
                       image_base=0x400000, image_size=rng.choice((0x1000, -1)))  # fmt: skip
        elif family == "apc":
            row.update(class_name=rng.choice(("REMOTE_APC_INTENT", "THREAD_CONTEXT_INTENT")),
                       access_mask=rng.choice((0x10, 0x12)))  # fmt: skip
        elif family == "image":
            row.update(image_path=rng.choice((r"\Windows\System32\ntdll.dll", r"\KnownDlls\ntdll.dll", "x.dll")),
                       is_system_mode=rng.choice((False, None, True)))  # fmt: skip
        elif family == "registry":
            row.update(key_path=rng.choice((r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
                                            r"\REGISTRY\MACHINE\SOFTWARE\Classes")))  # fmt: skip
        elif family == "ti":
            row.update(task=rng.choice((1, 2, 7, 0)), region_size=rng.choice((0x7FFF, 0x8000)),
                       protect=rng.choice((0x04, 0x20, 0x40)), old_protect=rng.choice((None, 0, 0x04, 0x20)),
                       event_name=rng.choice(("CreateProcessSuspended", "NtRollbackTransaction", "x", None)),
                       creation_flags=rng.choice((None, 4)))  # fmt: skip
        else:
            row.update(detection_name=rng.choice(("REMOTE_THREAD_OUTSIDE_MAIN_IMAGE", "THREAD_HIJACK_INTENT",
                                                  "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM",
                                                  "PROCESS_HOLLOWING_MARK_CHAIN_MEDIUM", "UNKNOWN_X")),
                       severity=5, reason=rng.choice((None, "thread-context intent combined with suspicious remote "
                                                             "thread execution")))  # fmt: skip
        rows.append(row)
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_dense_random_cases_on_the_edges(tmp_path, seed):
    rows = _random_rows(seed, 3_000)
    case = write_case(tmp_path / "edges.parquet", rows, host=f"EDGE{seed}")
    table = assert_same(case)
    assert len(table) > 500
    assert min(d["ts"] for d in table) >= T0_US


def _tie_rows(seed: int, clusters: int) -> list[dict[str, Any]]:
    """Reconciliation ties: clusters of triggers and live rows of one group, each side in runs of equal times (as
    the client JSONL's millisecond times give), shuffled so event ids do not follow time, clusters apart by steps
    near the nearest-time ties and the 2000 ms bound."""
    rng = random.Random(seed)
    run_key = r"\REGISTRY\MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
    rows, base = [], 0.0
    for _ in range(clusters):
        base += rng.choice((1, 2, 1000, 2000, 2001, 3000))
        actor, target = rng.choice((100, 104)), rng.choice((200, 208))
        registry = rng.random() < 0.3
        cluster = []
        for side in ("reconstructed", "live"):
            ms = base + rng.choice((0, 0, 0.5, 1, 2))
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
                if side == "live":
                    name = "HIGH_VALUE_REGISTRY_ACTIVITY" if registry else "REMOTE_THREAD_OUTSIDE_MAIN_IMAGE"
                    cluster.append({"family": "detection", "ms": ms, "actor_pid": actor, "severity": 4,
                                    "target_pid": 0 if registry else target, "detection_name": name})  # fmt: skip
                elif registry:
                    cluster.append({"family": "registry", "ms": ms, "actor_pid": actor, "key_path": run_key})
                else:
                    cluster.append({"family": "thread", "ms": ms, "actor_pid": actor, "target_pid": target,
                                    "kind": "sleepwalker:etw:ThreadTelemetry", "corr_flags": 0,
                                    "outside_main_image": True, "got_start": True, "start_region_exec": True,
                                    "start_region_status": 0, "start_region_type": 0x1000000,
                                    "start_region_protect": 0x20})  # fmt: skip
        rng.shuffle(cluster)
        rows += cluster
    return rows


@pytest.mark.parametrize("seed", range(2))
def test_dense_random_reconciliation_ties(tmp_path, seed):
    case = write_case(tmp_path / "ties.parquet", _tie_rows(seed, 1_500), host=f"TIES{seed}")
    table = assert_same(case)
    confirmed = Counter(
        (d["rule"], d["actor_pid"], d["target_pid"], d["ts"]) for d in table if d["status"] == "confirmed"
    )
    assert sum(n > 1 for n in confirmed.values()) > 20  # runs of two or more confirmed at one time
    assert {"reconstructed-only", "live-only"} <= {d["status"] for d in table}

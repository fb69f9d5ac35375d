"""The simulated host looks like a Windows 11 host, and its records follow the spec's header contexts (2.3)."""

from __future__ import annotations

import duckdb
import pytest

from swk.capture.simulate import Options, simulate


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    out = tmp_path_factory.mktemp("host")
    result = simulate(out, Options(events=20_000, seed=2, formats=()))
    db = duckdb.connect()
    db.execute(f"create view c as select * from '{result.case}'")
    return db


def one(con, sql):
    return con.execute(sql).fetchone()[0]


def test_ids_are_multiples_of_four(con):
    assert one(con, "select count(*) from c where actor_pid % 4 <> 0 or target_pid % 4 <> 0 or tid % 4 <> 0") == 0


def test_images_and_modules(con):
    paths = [r[0] for r in con.execute("select distinct image_path from c where family = 'image'").fetchall()]
    assert "\\SystemRoot\\System32\\ntdll.dll" in paths  # the kernel maps ntdll into every new process
    assert "\\SystemRoot\\SysWOW64\\ntdll.dll" in paths  # WOW64 processes get the 32-bit one too
    assert all(p.startswith(("\\Device\\HarddiskVolume3\\", "\\SystemRoot\\", "\\??\\")) for p in paths)
    origin = one(con, "select origin_address from c where family = 'handle' and from_ntdll limit 1")
    assert 0x7FFC_0000_0000 <= origin < 0x7FFE_0000_0000  # ntdll at the top of the user space, per boot


def test_header_contexts_follow_spec_2_3(con):
    assert one(con, "select count(*) from c where family in ('handle', 'thread') and header_pid <> 4") == 0
    assert one(con, "select count(*) from c where family = 'apc' and header_pid <> actor_pid") == 0
    assert one(con, "select count(*) from c where family = 'registry' and header_pid <> actor_pid") == 0
    assert one(con, "select count(*) from c where kind = 'sleepwalker:controller:detection' and header_tid <> 0") == 0


def test_every_published_record_has_its_sequence_in_order(con):
    seq = [r[0] for r in con.execute("select sequence from c where sequence is not null order by event_id").fetchall()]
    assert seq == list(range(1, len(seq) + 1))


def test_clock_columns(con):
    assert one(con, "select count(*) from c where clock <> 'qpc' or raw_clock is null") == 0
    assert one(con, "select count(distinct kind) from c where family = 'ti'") >= 2


def test_wow64_and_browser_churn(con):
    assert one(con, "select count(*) from c where family = 'process' and command_line like '%--type=renderer%'") > 0
    assert one(con, "select count(*) from c where detection_name = 'MULTIPLE_NTDLL_IMAGE_MAPPINGS'") > 0


def test_q_deep_region_protect_always_equals_origin_protect(con):
    # [Q] spec 1.3: DeepRegionProtect is written from OriginProtect, never from its own query
    assert one(con, "select count(*) from c where family = 'handle' and deep_region_protect <> origin_protect") == 0


def test_direct_syscall_deep_sample_and_cache_hit(tmp_path):
    from swk.capture.simulate.techniques import SHELLCODE
    from swk.kernel.abi import HandleFlag

    result = simulate(tmp_path, Options(scenarios=("direct-syscall",), benign=False, formats=()))
    rows = duckdb.sql(f"select flags, deep_sample, deep_sample_size, class_id from '{result.case}' "
                      "where family = 'handle' order by event_id").fetchall()  # fmt: skip
    captured, hit = int(HandleFlag.DEEP_PATH_CAPTURED), int(HandleFlag.DEEP_PATH_CACHE_HIT)
    assert [(f & (captured | hit), size, cls) for f, _, size, cls in rows] == [
        (captured, 64, 2),
        (captured | hit, 64, 2),
    ]
    assert all(sample == SHELLCODE[:64] for _, sample, _, _ in rows)  # the first 64 bytes of the origin's page

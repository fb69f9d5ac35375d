"""Real-data gates: the public EVTX and OTRF captures in shared/data, through `swk ingest`, with pinned values.

A missing or changed capture fails (SHA256SUMS), it never skips. The pinned values are the injection files the
data README names: purplesharp (OpenProcess 0x1fffff then 0x143a, CreateRemoteThread into unbacked memory), the
covenant wuauclt thread into `<unknown process>`, a call trace made only of UNKNOWN frames, and the two EVTX files
whose Sysmon 10 SourceImage is garbage while the same process's Sysmon 8 is clean.
"""

from __future__ import annotations

import hashlib
import json
import zipfile

import duckdb
import pytest
from click.testing import CliRunner
from evtx import PyEvtxParser

from swk.cli import cli
from swk.store.reader import open_case
from swk.testdata import shared_data

DATA = shared_data()
SUMS = [line.split(None, 1) for line in (DATA / "SHA256SUMS").read_text().splitlines() if line.strip()]
CAPTURES = sorted(name.strip() for _digest, name in SUMS if name.strip().endswith((".evtx", ".zip")))
EVTX = [n for n in CAPTURES if n.endswith(".evtx")]
ZIPS = [n for n in CAPTURES if n.endswith(".zip")]


def test_the_captures_are_all_listed():
    assert len(EVTX) == 270 and len(ZIPS) == 7
    on_disk = sorted(str(p.relative_to(DATA)) for p in DATA.rglob("*") if p.suffix in (".evtx", ".zip"))
    assert on_disk == CAPTURES


@pytest.mark.parametrize(("digest", "name"), [s for s in SUMS if s[1].strip() in CAPTURES], ids=lambda v: v[-40:])
def test_capture_is_present_and_unchanged(digest, name):
    path = DATA / name.strip()
    assert path.is_file(), f"missing: {path}"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Both folders through `swk ingest`, as an analyst would run it."""
    out = tmp_path_factory.mktemp("real") / "real.parquet"
    result = CliRunner().invoke(cli, ["ingest", str(DATA / "otrf"), str(DATA / "evtx-attack-samples"), "-o",
                                      str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{out}')")  # a tmp path we made: no quotes in it
    return {"path": out, "stderr": result.stderr, "manifest": open_case(out).manifest, "sql": con}


def _input(case: dict, name: str) -> dict:
    (found,) = [i for i in case["manifest"]["inputs"] if i["path"].endswith(name)]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", EVTX)
def test_every_evtx_ingests_whole(case, name):
    entry = _input(case, name)
    assert entry["format"] == "evtx"
    assert entry["read"] == entry["written"] + entry["rejected"]
    with (DATA / name).open("rb") as fh:  # pyevtx-rs on its own as the independent count (these files are clean)
        assert entry["read"] == sum(1 for _ in PyEvtxParser(fh).records())
    assert entry["rejected"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ZIPS)
def test_every_otrf_zip_ingests_whole(case, name):
    entry = _input(case, name)
    assert entry["format"] == "winlog-jsonl"
    with zipfile.ZipFile(DATA / name) as zf:
        (member,) = zf.infolist()
        lines = sum(1 for line in zf.open(member) if line.strip())
    assert entry["read"] == entry["written"] + entry["rejected"] == lines
    assert (entry["rejected"], entry["skipped"], entry["info"]["zip_members"]) == (0, 0, [member.filename])


# Sysmon 1 / 7 / 8 / 10 counts per OTRF file, as shared/data/README.md states them.
README_COUNTS = {
    "purplesharp_pe_injection_createremotethread.zip": (6, 241, 1, 253),
    "empire_dllinjection_LoadLibrary_CreateRemoteThread.zip": (8, 570, 1, 424),
    "empire_psinject_PEinjection.zip": (1, 173, 88, 561),
    "covenant_lolbin_wuauclt_createremotethread.zip": (4, 183, 1, 200),
    "cmd_process_herpaderping_mimiexplorer.zip": (3, 108, 0, 111),
    "empire_persistence_registry_modification_run_keys_standard_user.zip": (120, 3_907, 82, 1_931),
    "LSASS_campaign_01_metasploit_logonpasswords_lsass_memory_dump.zip": (269, 8_033, 1, 30_414),
}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "counts"), README_COUNTS.items())
def test_otrf_sysmon_counts_match_the_data_readme(case, name, counts):
    got = dict(_rows(case, f"SELECT kind, count(*) FROM t WHERE source_file LIKE '%/{name}' GROUP BY ALL"))
    assert tuple(got.get(f"sysmon:{i}", 0) for i in (1, 7, 8, 10)) == counts
    families = dict(_rows(case, f"SELECT kind, any_value(family) FROM t WHERE source_file LIKE '%/{name}' "
                                "AND kind IN ('sysmon:1', 'sysmon:7', 'sysmon:8', 'sysmon:10') GROUP BY ALL"))  # fmt: skip
    assert families == {k: v for k, v in {"sysmon:1": "process", "sysmon:7": "image", "sysmon:8": "thread",
                                          "sysmon:10": "handle"}.items() if k in got}  # fmt: skip


def _rows(case: dict, sql: str) -> list[tuple]:
    return case["sql"].execute(sql).fetchall()


@pytest.mark.slow
def test_purplesharp_open_process_then_remote_thread(case):
    rows = _rows(case, """SELECT source_offset, kind, access_mask, class_name, start_address, start_module,
        start_function, tid, json_extract_string(fields_json, '$.StartModule') FROM t
        WHERE source_file LIKE '%purplesharp%' AND actor_pid = 8972 AND target_pid = 9908 AND kind LIKE 'sysmon:%'
        ORDER BY source_offset""")  # fmt: skip
    assert rows == [
        (213, "sysmon:1", None, None, None, None, None, None, None),
        (214, "sysmon:10", 0x1FFFFF, "LEGITIMATE-SYSCALL", None, None, None, 3616, None),
        (222, "sysmon:10", 0x143A, "LEGITIMATE-SYSCALL", None, None, None, 3616, None),
        (239, "sysmon:8", None, None, 0x23FAD900000, "", "", 8488, "-"),
    ]


@pytest.mark.slow
def test_covenant_wuauclt_thread_into_an_unknown_process(case):
    rows = _rows(
        case,
        """SELECT actor_image, target_image, json_extract_string(fields_json, '$.TargetImage'),
        start_address, start_module, is_remote FROM t WHERE source_file LIKE '%covenant%' AND kind = 'sysmon:8'""",
    )
    assert rows == [("C:\\Windows\\System32\\wuauclt.exe", "<unknown process>", "&lt;unknown process&gt;",
                     0x1E811820000, "", True)]  # fmt: skip


@pytest.mark.slow
def test_open_process_from_unbacked_memory(case):
    rows = _rows(
        case,
        """SELECT access_mask, frames, origin_address, origin_path, class_id, class_name, sequence,
        host FROM t WHERE source_file LIKE '%Sysmon_10_Evasion_Suspicious_NtOpenProcess_CallTrace.evtx'""",
    )
    assert rows == [(0x1FFFFF, [{"address": 0x1F3C35A0014, "module": None, "offset": None}], 0x1F3C35A0014, "", 2,
                     "DIRECT-SYSCALL-SUSPECT", 303867, "MSEDGEWIN10")]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("name", "garbage"), [
    ("de_unmanagedpowershell_psinject_sysmon_7_8_10.evtx", "耙甯\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"),
    ("Sysmon_meterpreter_ReflectivePEInjection_to_notepad_.evtx", "\u3100"),
])  # fmt: skip
def test_garbled_source_image_is_null_and_the_guid_finds_the_clean_one(case, name, garbage):
    (access,) = _rows(
        case,
        f"""SELECT actor_guid, actor_image, json_extract_string(fields_json, '$.SourceImage')
        FROM t WHERE source_file LIKE '%{name}' AND kind = 'sysmon:10' AND actor_image IS NULL""",
    )
    assert access[1:] == (None, garbage)
    images = _rows(
        case,
        f"""SELECT DISTINCT actor_image FROM t WHERE source_file LIKE '%{name}'
        AND kind = 'sysmon:8' AND actor_guid = '{access[0]}'""",
    )
    assert images == [("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",)]
    assert f"{name}: warning: 1 sysmon:10 actor_image values garbled" in case["stderr"]


@pytest.mark.slow
def test_what_the_case_holds(case):
    manifest = case["manifest"]
    assert (manifest["rows"], manifest["rejects"]) == (122_848, 0)
    assert manifest["families"] == {"generic": 46_583, "handle": 34_059, "registry": 24_566, "image": 13_861,
                                    "process": 3_512, "thread": 267}  # fmt: skip
    assert _rows(case, "SELECT kind, count(*) FROM t WHERE kind IN ('sysmon:8', 'sysmon:10') GROUP BY ALL ORDER BY 1")\
        == [("sysmon:10", 34_040), ("sysmon:8", 267)]  # fmt: skip
    # every Sysmon row has a UtcTime-based time and a host
    assert _rows(case, "SELECT count(*) FROM t WHERE kind LIKE 'sysmon:%' AND (clock <> 'sysmon-utc' OR host IS NULL)")\
        == [(0,)]  # fmt: skip
    assert json.loads(_rows(case, "SELECT fields_json FROM t WHERE kind = 'sysmon:10' LIMIT 1")[0][0])["CallTrace"]

"""What the report says about the sample incident: manifest, counts, chains, decoded evidence, tree, timelines,
gaps; and that every cap counts and summarises what it leaves out instead of dropping it."""

from __future__ import annotations

import pytest

from swk.reports.data import Limits, assemble
from swk.reports.sample import write_incident


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory):
    return write_incident(tmp_path_factory.mktemp("report") / "case.parquet")


@pytest.fixture(scope="module")
def report(case):
    return assemble(case)


def card(report, name, target=None):
    found = [c for c in report["cards"] if c["name"] == name and (target is None or c["target_pid"] == target)]
    assert found, f"no card {name}"
    return found[0]


def test_summary_manifest_and_counts(report):
    s = report["summary"]
    assert [i["path"] for i in s["inputs"]] == ["WS01-sleepwalker.etl", "WS01-handles.etl", "client-console.log"]
    assert all(len(i["sha256"]) == 64 and i["read"] == i["written"] + i["rejected"] for i in s["inputs"])
    assert s["rejects"] == 2 and s["hosts"] == {"WS01": s["rows"]}
    assert s["time_span"]["first"].startswith("2026-03-02T08:00:00")
    assert report["total"] == report["shown_total"] == len(report["cards"]) == 19
    assert sum(x["n"] for x in report["severity"]) == 19
    assert [x["severity"] for x in report["severity"]] == [7, 6, 5, 4, 3, 2]
    assert report["status"] == {"confirmed": 1, "reconstructed-only": 17, "live-only": 1, "reconstructed": 0}
    assert report["top"]["actor"][0]["label"] == "powershell.exe (4242)"
    assert report["top"]["target"][0]["label"] == "notepad.exe (5150)"


def test_cards_span_their_evidence_as_the_detections_view_does(case, report):
    from swk.analyze.engine import connect
    from swk.reports.data import when

    con = connect(case)
    expected = {i: (f, la) for i, f, la in con.execute("SELECT id, first_ts, last_ts FROM detections").fetchall()}
    got = {c["id"]: (c["first_ts"], c["last"]) for c in report["cards"]}
    assert got == {i: (expected[i][0], when(expected[i][1])) for i in got}
    assert any(expected[i][0] < expected[i][1] for i in got)  # chains whose evidence spans time are among them


def test_cards_are_severity_ordered(report):
    severities = [c["severity"] for c in report["cards"]]
    assert severities == sorted(severities, reverse=True)
    assert report["cards"][0]["name"] == "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG"
    assert [c["open"] for c in report["cards"]].count(True) == 12


def test_kernel_chain_tells_the_story_in_time_order(report):
    c = card(report, "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG")
    assert c["status"] == "confirmed" and c["live_event_id"] is not None and c["attack"] == "T1055.012"
    steps = c["steps"]
    assert [s["family"] for s in steps] == ["handle", "handle", "thread"]
    assert [s["trigger"] for s in steps] == [False, False, True]
    assert [s["offset"] for s in steps] == ["+0.000 s", "+0.400 s", "+0.800 s"]
    assert steps[0]["text"] == ("powershell.exe (4242) opened notepad.exe (5150) for CREATE_THREAD|VM_OPERATION|"
                                "VM_WRITE (0x2A) via DIRECT-SYSCALL-SUSPECT")  # fmt: skip
    assert "thread of notepad.exe (5150) for SUSPEND_RESUME|GET_CONTEXT|SET_CONTEXT (0x1A)" in steps[1]["text"]
    assert "(0x00000040 (XRW) COMMIT PRIVATE, outside the main image)" in steps[2]["text"]
    # The same decoded facts and marks as `swk analyze --explain`.
    assert steps[2]["marks"] == "REMOTE_THREAD|OUTSIDE_IMAGE|NON_IMAGE_EXEC|MEMORY_INTENT|THREAD_CONTEXT_INTENT"
    assert "access 0x0000002A CREATE_THREAD|VM_OPERATION|VM_WRITE" in steps[0]["facts"]
    assert (
        c["corr"]
        == "ProcessMemory|ThreadContext, access CREATE_THREAD|VM_OPERATION|VM_READ|VM_WRITE (0x3A), age 400 ms"
    )


def test_evidence_tables_decode_masks_protections_frames(report):
    c = card(report, "KERNEL_PROCESS_HOLLOWING_MARK_CHAIN_STRONG")
    tables = {t["family"]: t for t in c["tables"]}
    handle = tables["handle"]
    cells = dict(zip(handle["headers"], handle["rows"][0]["cells"], strict=True))
    assert cells["access"] == "CREATE_THREAD|VM_OPERATION|VM_WRITE (0x2A)"
    assert cells["stack (innermost first)"].splitlines() == ["powershell.exe+0x1A2B", "0x00000000001F0088 [unresolved]",
                                                             "ntdll.dll+0x2DA5C"]  # fmt: skip
    assert "StackSpoofSuspect" in cells["flags"]
    thread = dict(zip(tables["thread"]["headers"], tables["thread"]["rows"][0]["cells"], strict=True))
    assert thread["start region"] == "0x00000040 (XRW) COMMIT PRIVATE"
    assert thread["start"] == "0x00000000001F0120"
    ti = card(report, "PROCESS_HOLLOWING_MARK_CHAIN_STRONG")
    rows = [dict(zip(t["headers"], r["cells"], strict=True)) for t in ti["tables"] if t["family"] == "ti"
            for r in t["rows"]]  # fmt: skip
    assert [r["event"].split(" (")[-1] for r in rows[1:]] == ["ALLOCVM)", "WRITEVM)", "PROTECTVM)"]
    assert rows[1]["protect"] == "0x00000004 (RW)" and rows[1]["size"] == "0x40000"
    assert rows[3]["protect"] == "0x00000020 (XR)" and rows[3]["old protect"] == "0x00000004 (RW)"
    assert ti["marks"].startswith("CREATE_SUSPENDED|TI_ALLOC_RW_LARGE|TI_WRITE_VM|TI_PROTECT_RX")


def test_live_only_tamper_says_why(report):
    c = card(report, "DRIVER_DISPATCH_OR_OBJECT_TAMPER")
    assert c["status"] == "live-only" and [s["family"] for s in c["steps"]] == ["detection"]
    assert any("not reconstructible" in w for w in report["warnings"])


def test_process_tree_with_injection_edges(report):
    tree = report["tree"]
    by_pid = {n["pid"]: n for n in tree["nodes"]}
    assert by_pid[5150]["role"] == "target" and by_pid[7001]["role"] == "target"
    assert by_pid[4242]["role"] == "actor" and by_pid[4242]["parent"] == 3312
    assert by_pid[5150]["parent"] == 4242 and by_pid[5150]["depth"] == by_pid[4242]["depth"] + 1
    assert not by_pid[612]["seen"] and by_pid[700]["seen"]
    titles = [e["title"] for e in tree["edges"]]
    assert len(titles) == 2
    assert any(t.startswith("powershell.exe (4242) -> notepad.exe (5150): 13 detections") for t in titles)
    assert any(t.startswith("powershell.exe (4242) -> rundll32.exe (7001): 2 detections") for t in titles)
    assert tree["hidden"] == 0


def test_pair_timelines_show_windows(report):
    pairs = {(p["actor"], p["target"]): p for p in report["timelines"]}
    assert set(pairs) == {
        ("powershell.exe (4242)", "notepad.exe (5150)"),
        ("powershell.exe (4242)", "rundll32.exe (7001)"),
    }
    hollow = pairs[("powershell.exe (4242)", "notepad.exe (5150)")]
    assert {s["kind"] for s in hollow["spans"]} == {"w5", "w30"}
    assert hollow["runs_on"]  # a 1 s chain: the 30 s window runs off the axis rather than squash it
    assert {d["kind"] for d in hollow["dots"]} >= {"mem", "ctx", "marked"}
    apc = pairs[("powershell.exe (4242)", "rundll32.exe (7001)")]
    assert not apc["runs_on"] and len(apc["diamonds"]) == 2
    assert report["rate"]["bars"] and {"handle", "thread"} <= set(report["rate"]["families"])


def test_gaps_name_file_and_place(report):
    where = {(r["source_file"], r["where"]) for r in report["rejects"]}
    assert where == {("WS01-sleepwalker.etl", "@0x00024000"), ("client-console.log", "line 212")}
    assert [(u["source_file"], u["n"]) for u in report["untimed"]] == [("client-console.log", 1),
                                                                       ("client-console.log", 1)]  # fmt: skip
    assert {r["reason"] for r in report["reject_counts"]} == {
        "WMI_BUFFER_HEADER.BufferSize=# at a buffer boundary",
        "line #: no 'pid=' field in a handle block",
    }
    assert {(r["source_file"], r["first"], r["last"]) for r in report["reject_counts"]} == {
        ("WS01-sleepwalker.etl", "@0x00024000", "@0x00024000"),
        ("client-console.log", "line 212", "line 212"),
    }
    assert sorted(u["first"] for u in report["untimed"]) == ["line 118", "line 131"]
    assert report["view_limits"] == []
    assert any("2 rows have no time" in w for w in report["warnings"])


def test_caps_count_what_they_leave_out(case):
    small = assemble(case, limits=Limits(cards=3, evidence=2, groups=2, tree_nodes=4, pairs=1))
    assert len(small["cards"]) == 3 and small["shown_total"] == 19
    assert len(small["groups"]) == 2 and sum(g["carded"] for g in small["groups"]) <= 3
    big = [c for c in small["cards"] if c["total"] > 2]
    assert big, "a sample card has more evidence than the cap"
    for c in big:
        assert len(c["steps"]) == 2 and c["steps"][-1]["trigger"]
        assert sum(d["n"] for d in c["dropped"]) == c["total"] - 2
    assert small["tree"]["hidden"] > 0
    kept = {n["pid"] for n in small["tree"]["nodes"]}
    assert {4242, 5150} <= kept  # named processes and their ancestors stay
    assert len(small["timelines"]) == 1


def test_min_severity_hides_cards_not_counts(case):
    high = assemble(case, min_severity=6)
    assert {c["severity"] for c in high["cards"]} == {6, 7}
    assert high["total"] == 19 and high["shown_total"] == len(high["cards"]) == 4
    assert [s["severity"] for s in high["severity"] if s["hidden"]] == [5, 4, 3, 2]

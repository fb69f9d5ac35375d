"""The printers' spellings (spec 4.1): swk renders evidence with them and the text formats depend on them."""

from __future__ import annotations

import pytest

from swk.kernel import names


@pytest.mark.parametrize(("mask", "text"), [
    (0x001FFFFF, "PROCESS_ALL_ACCESS"),
    (0x0000003A, "CREATE_THREAD|VM_OPERATION|VM_READ|VM_WRITE"),
    (0x0000143A, "CREATE_THREAD|VM_OPERATION|VM_READ|VM_WRITE|QUERY_INFORMATION|QUERY_LIMITED_INFO"),
    (0x0000102A, "CREATE_THREAD|VM_OPERATION|VM_WRITE|QUERY_LIMITED_INFO"),
    (0x00001000, "QUERY_LIMITED_INFO"),
    (0x0000001A, "CREATE_THREAD|VM_OPERATION|VM_READ"),  # a thread mask: there is no thread table [Q]
    (0x00100000, "SYNCHRONIZE"),
    (0x001F3FFF, "TERMINATE|CREATE_THREAD|SET_SESSIONID|VM_OPERATION|VM_READ|VM_WRITE|DUP_HANDLE|CREATE_PROCESS|"
                 "SET_QUOTA|SET_INFORMATION|QUERY_INFORMATION|SUSPEND_RESUME|QUERY_LIMITED_INFO|SYNCHRONIZE"),
    (0x02000000, "<none>"),  # MAXIMUM_ALLOWED: unknown bits are dropped
    (0, "<none>"),
])  # fmt: skip
def test_access_names(mask: int, text: str) -> None:
    assert names.access_names(mask) == text


@pytest.mark.parametrize(("protect", "text"), [
    (0x40, "0x00000040 (XRW)"),
    (0x104, "0x00000104 (GUARD|RW)"),
    (0, "0x00000000 (<unknown>)"),
    (0x20, "0x00000020 (XR)"),
    (0x301, "0x00000301 (GUARD|NOCACHE|NOACCESS)"),
    (0x80, "0x00000080 (XWCOPY)"),
])  # fmt: skip
def test_protection_display(protect: int, text: str) -> None:
    assert names.protect_display(protect) == text


def test_states_types_and_corr() -> None:
    assert names.memory_state(0x1000) == "COMMIT"
    assert names.memory_state(0x3000) == "0x00003000"
    assert names.memory_type(0x1000000) == "IMAGE"
    assert names.memory_type(0) == "0x00000000"
    assert names.corr_names(1) == "ProcessMemory"
    assert names.corr_names(7) == "ProcessMemory|ThreadContext|DuplicateHandle"
    assert names.corr_names(0) == "<none>"
    assert names.stream_names(3) == "HANDLE|MEMORY"


def test_flag_tables_follow_the_printers() -> None:
    assert names.flag_names(0xCD, names.CLIENT_HANDLE_FLAG_NAMES) == [
        "ExecProtect",
        "FromExe",
        "MemoryRelated",
        "DeepCandidate",
        "DeepCaptured",
    ]
    assert names.flag_names(0x13F, names.THREAD_FLAG_NAMES) == [
        "GotStart", "GotRange", "RemoteCreator", "OutsideMainImage", "CorrelatedIntent", "IntentProcessMemory",
        "StartRegionExec"]  # fmt: skip
    # the test-suite printer omits the Deep* flags
    assert "DeepCandidate" not in dict(names.SUITE_HANDLE_FLAG_NAMES)


def test_status_entropy_opcodes() -> None:
    assert names.status_text(0) == "SUCCESS(0x00000000)"
    assert names.status_text(0xC0000001) == "FAIL(0xC0000001)"
    assert names.status_text(-0x3FFFFFFF) == "FAIL(0xC0000001)"
    sample = bytes.fromhex("CCCC48895C2408574883EC20488BD9E8") * 4
    assert names.opcodes(sample) == "CC CC 48 89 5C 24 08 57 48 83 EC 20 48 8B D9 E8 ..."
    assert names.opcodes(b"") == "<none>"
    assert names.entropy(b"") == 0.0
    assert names.entropy(bytes(range(256))) == 8.0
    assert f"{names.entropy(b'AAAB'):.3f}" == "0.811"

"""Shared fixtures; the report header names the engine versions because SQL results depend on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from swk.testdata import shared_data as _find_shared_data


def pytest_report_header(config: pytest.Config) -> list[str]:
    import duckdb
    import numpy
    import pyarrow

    return [f"duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}, numpy {numpy.__version__}"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only public captures; a missing folder fails the test, it never skips it."""
    return _find_shared_data()

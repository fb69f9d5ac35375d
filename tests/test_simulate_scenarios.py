"""Each technique scenario, run alone on an idle host, raises exactly what its docstring promises."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from swk.capture.simulate import SCENARIOS, Options, simulate
from swk.capture.simulate.truth import load
from swk.kernel.catalogue import BY_RULE

ATTACK = re.compile(r"^T\d{4}(\.\d{3})?$")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_alone_raises_exactly_its_promise(name, tmp_path):
    scenario = SCENARIOS[name]
    result = simulate(tmp_path, Options(scenarios=(name,), benign=False, formats=()))
    assert result.detections == Counter(scenario.expects)
    truth = load(result.truth)
    assert truth["count"] == sum(scenario.expects.values())
    assert all(d["live_event_id"] and d["evidence"] for d in truth["detections"])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_documents_what_it_raises(name):
    scenario = SCENARIOS[name]
    assert ATTACK.match(scenario.attack) and scenario.summary.endswith(".")
    doc = scenario.doc
    noise = "spawn noise" in doc.lower() or "Spawn noise" in doc
    for rule in scenario.expects:
        assert rule in BY_RULE
        name_in_doc = BY_RULE[rule].name in doc or rule.split("/")[0] in doc
        assert name_in_doc or noise, f"{name}: {rule} is neither named nor part of the documented spawn noise"


def test_assumed_ti_events_appear_only_where_documented(tmp_path):
    assumed = ("KERNEL_THREATINT_TASK_CREATEPROCESS", "KERNEL_THREATINT_TASK_MAPVIEW_TRANSACTED")
    for name in SCENARIOS:
        import duckdb

        out = tmp_path / name
        simulate(out, Options(scenarios=(name,), benign=False, formats=()))
        names = {
            r[0] for r in duckdb.sql(f"select event_name from '{out}/case.parquet' where family = 'ti'").fetchall()
        }
        uses = bool(names & set(assumed))
        assert uses == ("Assumption" in SCENARIOS[name].doc), name

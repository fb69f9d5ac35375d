"""The scenario registry: a technique is a documented function with its ATT&CK id and the detections it raises.

`expects` is what the scenario raises when it runs alone on an otherwise idle host (benign mix off): rule -> count,
kernel and controller alike. The docstring of each scenario explains why each of them fires, from the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from swk.capture.simulate.sim import Simulation
from swk.capture.simulate.world import Baseline

Technique = Callable[[Simulation, Baseline, int], None]


@dataclass(frozen=True)
class Scenario:
    """A registered technique."""

    name: str
    attack: str
    summary: str
    run: Technique
    expects: dict[str, int]
    span_ms: int  # how long its actions last after its start

    @property
    def doc(self) -> str:
        """The technique's full docstring."""
        return self.run.__doc__ or ""


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, attack: str, expects: dict[str, int], span_ms: int = 2000) -> Callable[[Technique], Technique]:
    """Register a technique function under `name`."""

    def register(fn: Technique) -> Technique:
        summary = (fn.__doc__ or "").strip().splitlines()[0]
        SCENARIOS[name] = Scenario(name, attack, summary, fn, dict(expects), span_ms)
        return fn

    return register

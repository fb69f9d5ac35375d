"""The case manifest: what went in (inputs, hashes, formats), what came out (rows, rejects), and how to read time.

It lives in every Parquet footer under `swk.manifest`. A write is one *run* (an ingest, a simulation, a capture);
every part a run closes carries the run's cumulative manifest with an increasing `part_seq`, so a reader takes the
latest part per run and adds runs together. That way a directory case still reconciles after a crash: the parts
that exist say exactly what they hold.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, fields
from typing import Any

from swk.store.schema import META_MANIFEST, SCHEMA_VERSION


@dataclass
class InputStats:
    """Counts for one input: `read == written + rejected` always."""

    path: str
    format: str
    sha256: str | None = None
    size: int | None = None
    host: str | None = None
    written: int = 0
    rejected: int = 0
    skipped: int = 0
    first_event_id: int | None = None
    last_event_id: int | None = None
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def read(self) -> int:
        """Records read from the input: every one was either written or rejected."""
        return self.written + self.rejected

    def to_json(self) -> dict[str, Any]:
        """Plain JSON form, with `read` spelled out."""
        # Field by field rather than dataclasses.asdict, whose deep copy cost ~0.1 ms an input: a manifest is built
        # three times per ingest, and a Sysmon corpus has hundreds of small inputs. Only the two containers need a
        # copy (warnings holds strings; info may nest).
        out = {name: getattr(self, name) for name in _FIELDS}
        out["warnings"] = list(self.warnings)
        out["info"] = copy.deepcopy(self.info) if self.info else {}
        out["read"] = self.read
        return out


_FIELDS = tuple(f.name for f in fields(InputStats))


def encode(manifest: dict[str, Any]) -> bytes:
    """Footer bytes of a manifest."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def decode(metadata: dict[bytes, bytes] | None) -> dict[str, Any] | None:
    """The manifest in a Parquet footer's key-value metadata, if any."""
    if not metadata or META_MANIFEST not in metadata:
        return None
    return json.loads(metadata[META_MANIFEST])


def merge(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """One manifest for a case: the latest part of every run, runs added together."""
    latest: dict[str, dict[str, Any]] = {}
    for m in manifests:
        run = m.get("run_id", "")
        if run not in latest or m.get("part_seq", 0) > latest[run].get("part_seq", 0):
            latest[run] = m
    # Runs that append to one case take consecutive event ids, so the first id orders them as they were written.
    runs = sorted(latest.values(), key=lambda m: ((m.get("event_id_range") or [0])[0], m.get("created_utc", "")))
    inputs = [i for m in runs for i in m.get("inputs", [])]
    merged: dict[str, Any] = {
        "schema_version": max((m.get("schema_version", SCHEMA_VERSION) for m in runs), default=SCHEMA_VERSION),
        "runs": [{k: m.get(k) for k in ("run_id", "command", "created_utc", "swk_version", "clock", "parts")}
                 for m in runs],
        "inputs": inputs,
        "rows": sum(m.get("rows", 0) for m in runs),
        "rejects": sum(m.get("rejects", 0) for m in runs),
        "families": {},
    }  # fmt: skip
    for m in runs:
        for fam, count in m.get("families", {}).items():
            merged["families"][fam] = merged["families"].get(fam, 0) + count
        for key in ("clock", "extra"):
            if m.get(key):
                merged.setdefault(key, m[key])
    return merged

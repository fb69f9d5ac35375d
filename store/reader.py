"""Opens a case: one `.parquet` file, a (hive) directory of them, or a glob.

Every file must carry swk's schema version in its footer; anything else is refused with a one-line error naming
the file, because a case must mean the same thing every time it is read.
"""

from __future__ import annotations

import glob as globlib
import os.path
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from swk.errors import CaseError
from swk.store import manifest as mf
from swk.store.schema import EVENTS, META_SCHEMA_VERSION, SCHEMA_VERSION

_GLOB_CHARS = set("*?[")


def _is_part(path: Path) -> bool:
    return path.suffix == ".parquet" and not path.name.startswith(".") and ".tmp-" not in path.name


@dataclass
class Case:
    """A readable case: its files, whether they are hive-partitioned, and the merged manifest."""

    path: Path
    files: list[Path]
    partitioned: bool
    root: Path
    manifests: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """The merged manifest of every run that wrote the case."""
        return mf.merge(self.manifests)

    def dataset(self) -> ds.Dataset:
        """A pyarrow dataset over every part, in the case schema (hive `host` restored)."""
        if self.partitioned:
            return ds.dataset([str(f) for f in self.files], schema=EVENTS, format="parquet",
                              partitioning=ds.partitioning(pa.schema([EVENTS.field("host")]), flavor="hive"),
                              partition_base_dir=str(self.root))  # fmt: skip
        return ds.dataset([str(f) for f in self.files], schema=EVENTS, format="parquet")

    def max_event_id(self) -> int:
        """The highest event id in the case (0 when empty)."""
        ranges = [m.get("event_id_range", [0, 0])[1] or 0 for m in self.manifests]
        return max(ranges, default=0)


def open_case(spec: str | Path) -> Case:
    """Open a case file, directory or glob, checking every part's footer."""
    text = str(spec)
    path = Path(text)
    if _GLOB_CHARS & set(text) and not path.exists():
        files = sorted(Path(p) for p in globlib.glob(text, recursive=True) if _is_part(Path(p)))
        if not files:
            raise CaseError(f"{text}: no Parquet files match this pattern")
        root = _common_root(files)
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if _is_part(p))
        root = path
        if not files:
            raise CaseError(f"{path}: directory holds no Parquet parts")
    elif path.is_file():
        files, root = [path], path.parent
    else:
        raise CaseError(f"{path}: no such case file or directory")
    partitioned = any("=" in part for f in files for part in f.relative_to(root).parts[:-1])
    manifests = [_check(f) for f in files]
    return Case(path=path, files=files, partitioned=partitioned, root=root,
                manifests=[m for m in manifests if m is not None])  # fmt: skip


def _common_root(files: list[Path]) -> Path:
    common = Path(os.path.commonpath([str(f.parent) for f in files]))
    while "=" in common.name:  # a hive folder is a partition, not the root
        common = common.parent
    return common


def _check(file: Path) -> dict[str, Any] | None:
    try:
        meta = pq.read_metadata(file)
    except (OSError, pa.ArrowException) as exc:
        raise CaseError(f"{file}: not a readable Parquet file ({exc})") from None
    kv = meta.metadata or {}
    if META_SCHEMA_VERSION not in kv:
        raise CaseError(f"{file}: not a swk case (no {META_SCHEMA_VERSION.decode()} in the Parquet footer)")
    version = int(kv[META_SCHEMA_VERSION])
    if version > SCHEMA_VERSION:
        raise CaseError(f"{file}: case schema version {version} is newer than this swk ({SCHEMA_VERSION})",
                        hint="upgrade swk")  # fmt: skip
    return mf.decode(kv)

"""Where the project's shared public captures are, for the tests and benchmarks (never read by swk itself).

The captures live beside the repository in `shared/data/` (Sysmon EVTX, OTRF JSON lines, ETL files; read-only,
with SHA256SUMS). A clone may sit deeper than its sibling `shared/`, so every parent of the repository is tried,
then every parent of the local repository it was cloned from (`git clone . /tmp/x/fresh` leaves `shared/` behind);
`SWK_SHARED_DATA` names the folder outright. A missing folder is an error that says where it looked: the tests that
need the data fail, they never skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def shared_data() -> Path:
    """The `shared/data` folder: `$SWK_SHARED_DATA`, else the nearest `shared/data` above the repository."""
    named = os.environ.get("SWK_SHARED_DATA")
    if named:
        if not (Path(named) / "SHA256SUMS").is_file():
            raise FileNotFoundError(f"SWK_SHARED_DATA={named}: no SHA256SUMS there (see shared/data/README.md)")
        return Path(named)
    for parent in [*ROOT.parents, *_origin_parents()]:
        candidate = parent / "shared" / "data"
        if (candidate / "SHA256SUMS").is_file():
            return candidate
    raise FileNotFoundError(f"no shared/data/SHA256SUMS in any parent of {ROOT} or of the repository it was cloned "
                            "from; set SWK_SHARED_DATA to the folder")  # fmt: skip


def _origin_parents() -> list[Path]:
    """The parents of `origin` when it is a local path (a clone of a checkout), else none."""
    try:
        url = subprocess.run(["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"], capture_output=True,
                             text=True, check=False).stdout.strip()  # fmt: skip
    except OSError:  # no git
        return []
    url = url.removeprefix("file://")
    if not url or "://" in url or not Path(url).is_absolute():
        return []
    return list(Path(url).resolve().parents)

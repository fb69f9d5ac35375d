"""Registry monitor high-value test (spec 3.8): case-insensitive substrings of the key path.

`\\currentversion\\run` already covers RunOnce, RunServices and any key whose name starts with `Run` after
`\\CurrentVersion\\`. A relative CompleteName without a backslash before `system` misses the services needle [AMB],
and so does a full path through the real control set (`...\\ControlSet001\\Services\\...`): the needle names the
`CurrentControlSet` link.
"""

from __future__ import annotations

from functools import lru_cache

from swk.kernel.catalogue import HIGH_VALUE_REGISTRY_NEEDLES

OPERATIONS = ("SET_VALUE", "CREATE_KEY", "OPEN_KEY", "DELETE_VALUE")


@lru_cache(maxsize=65_536)  # a host opens the same few thousand keys over and over
def high_value_attack(key_path: str | None) -> str | None:
    """The ATT&CK id of the first needle the path contains, or None when it is not high-value."""
    if not key_path:
        return None
    lower = key_path.lower()
    for needle, attack in HIGH_VALUE_REGISTRY_NEEDLES:
        if needle in lower:
            return attack
    return None

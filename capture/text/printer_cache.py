"""The ETW printer's two caches (spec 4.1): pid -> process image (512 entries) and pid -> modules (24 x 192).

Both are filled as the printer goes (from ProcessTelemetry/ImageTelemetry and from image queries), so what a block
prints depends on the events printed before it; the writer replays them in order to print what the printer printed.
Replacement follows `sleepwalker_etw_printer.c`/`sleepwalker_etw_symbols.c`: a known pid is updated in place,
otherwise the next round-robin slot is overwritten; a full module list overwrites slot `base % 192`.
"""

from __future__ import annotations

from collections.abc import Callable

from swk.capture.text.render import MASK32, base_name

IMAGE_SLOTS = 512
MODULE_PID_SLOTS, MODULE_SLOTS, MODULE_NAME_CHARS = 24, 192, 95
MAX_PATH_CHARS = 259  # the printers copy images into WCHAR[MAX_PATH]
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ci(text: str) -> str:
    """Case folding as `_wcsicmp`/`towlower` do it in the C locale (ASCII letters only)."""
    return text.translate(_ASCII_LOWER)


class ProcessImages:
    """`FormatProcessImage`: placeholder, cache, QueryFullProcessImageNameW, broker image query, placeholder."""

    def __init__(self, process_image: Callable[[int], str | None] | None,
                 query_image: Callable[[int], str | None] | None) -> None:  # fmt: skip
        self.process_image, self.query_image = process_image, query_image
        self.slots: list[int | None] = [None] * IMAGE_SLOTS
        self.paths: dict[int, str] = {}
        self.cursor = 0

    def remember(self, pid: int, path: str | None) -> None:
        """`SLEEPWALKERCacheProcessImage`: only executable image paths (`.exe`/`.com`), never placeholders."""
        if not pid or not path or path.startswith("<") or not ci(path).endswith((".exe", ".com")):
            return
        if pid not in self.paths:
            evicted = self.slots[self.cursor]
            if evicted is not None:
                del self.paths[evicted]
            self.slots[self.cursor] = pid
            self.cursor = (self.cursor + 1) % IMAGE_SLOTS
        self.paths[pid] = path

    def __call__(self, pid: int) -> str:
        """The image text the printer shows for a pid."""
        if pid == 0:
            return "<pid:0>"
        if pid > MASK32:
            return f"<pid:{pid} invalid>"
        if pid in self.paths:
            return self.paths[pid][:MAX_PATH_CHARS]
        opened = False
        for query in (self.process_image, self.query_image):
            path = query(pid) if query else None
            opened = opened or (path is not None and query is self.process_image)
            if path:
                self.remember(pid, path)
                return path[:MAX_PATH_CHARS]
        # An empty answer from process_image means the process opened but had no name (`image-unknown`).
        return f"<pid:{pid} image-unknown>" if opened else f"<pid:{pid} inaccessible>"


class Modules:
    """The per-pid module cache, filled only from ImageTelemetry, consulted for `[unresolved]` addresses."""

    def __init__(self) -> None:
        self.pids: list[int] = [0] * MODULE_PID_SLOTS
        self.modules: list[list[tuple[int, int, str]]] = [[] for _ in range(MODULE_PID_SLOTS)]
        self.write_index = -1

    def add(self, pid: int, base: int, size: int, path: str | None) -> None:
        """`SLEEPWALKERCacheSingleModuleRange`."""
        pid &= MASK32
        if not pid or not base or not size:
            return
        if pid in self.pids:
            slot = self.pids.index(pid)
        else:
            self.write_index += 1
            slot = self.write_index % MODULE_PID_SLOTS
            self.pids[slot], self.modules[slot] = pid, []
        mods = self.modules[slot]
        name = (base_name(path) if path else "<unknown>")[:MODULE_NAME_CHARS]
        for i, (known, _, _) in enumerate(mods):
            if known == base:
                mods[i] = (base, size, name)
                return
        if len(mods) < MODULE_SLOTS:
            mods.append((base, size, name))
        else:
            mods[base % MODULE_SLOTS] = (base, size, name)

    def resolve(self, pid: int, address: int) -> str | None:
        """`name+0xN` for an address inside a cached module of the pid."""
        pid &= MASK32
        if not pid:
            return None
        for slot, known in enumerate(self.pids):
            if known != pid:
                continue
            for base, size, name in self.modules[slot]:
                if base <= address < base + size and base + size <= (1 << 64) - 1:
                    return f"{name or '<module>'}+0x{address - base:X}"
        return None

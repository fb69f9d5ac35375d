"""Simulated address spaces: the regions of mapped images and private allocations, answering the driver's queries."""

from __future__ import annotations

import bisect
import itertools
from functools import lru_cache

from swk.capture.simulate.modules import PAGE_EXECUTE_READ, PAGE_READONLY, PAGE_WRITECOPY, ModuleSpec
from swk.kernel.abi import MEM_COMMIT, MEM_IMAGE, MEM_PRIVATE
from swk.kernel.model.memory import PAGE, Region

_FILL = 0xCC  # code bytes nobody reads on purpose: never a call opcode where the return-address check looks
_VERSIONS = itertools.count(1)  # one sequence for every space: a version names one state of one space


@lru_cache(maxsize=4096)
def image_regions(spec: ModuleSpec, base: int) -> tuple[Region, ...]:
    """The regions of `spec` mapped at `base`: header page, `.text`, read-only data, writable data."""
    text_start, text_size = spec.text
    text_end = -(-(text_start + text_size) // PAGE) * PAGE
    rdata_end = text_end + (spec.size - text_end) * 2 // 3 // PAGE * PAGE
    parts = [(0, PAGE, PAGE_READONLY), (text_start, text_end, PAGE_EXECUTE_READ), (text_end, rdata_end, PAGE_READONLY),
             (rdata_end, spec.size, PAGE_WRITECOPY)]  # fmt: skip
    return tuple(Region(base + lo, base + hi, base, protect, MEM_COMMIT, MEM_IMAGE, spec.path)
                 for lo, hi, protect in parts if hi > lo)  # fmt: skip


class Mapping:
    """A mapped image or a private allocation in one address space."""

    __slots__ = ("base", "data", "end", "regions", "spec")

    def __init__(self, base: int, regions: tuple[Region, ...], spec: ModuleSpec | None = None,
                 data: bytes = b"") -> None:  # fmt: skip
        self.base = base
        self.end = regions[-1].end
        self.regions = regions
        self.spec = spec
        self.data = data

    def byte_source(self, address: int, size: int) -> bytes:
        """`size` bytes at `address` (inside this mapping)."""
        if self.spec is None:
            offset = address - self.base
            chunk = self.data[offset : offset + size]
            return chunk + b"\x00" * (size - len(chunk))
        out = bytearray([_FILL]) * size
        rva = address - self.base
        for at, code in self.spec.code.items():
            lo, hi = max(at, rva), min(at + len(code), rva + size)
            if lo < hi:
                out[lo - rva : hi - rva] = code[lo - at : hi - at]
        return bytes(out)


class Space:
    """One process's address space (`AddressSpace` of the kernel model)."""

    def __init__(self) -> None:
        self.version = next(_VERSIONS)
        self._starts: list[int] = []
        self._maps: list[Mapping] = []
        self._by_base: dict[int, Mapping] = {}

    def map(self, mapping: Mapping) -> Mapping:
        """Add a mapping (images and allocations never overlap in the simulation)."""
        i = bisect.bisect_left(self._starts, mapping.base)
        self._starts.insert(i, mapping.base)
        self._maps.insert(i, mapping)
        self._by_base[mapping.base] = mapping
        self.version = next(_VERSIONS)
        return mapping

    def map_image(self, spec: ModuleSpec, base: int) -> Mapping:
        """Map an image at `base`."""
        return self.map(Mapping(base, image_regions(spec, base), spec))

    def allocate(self, base: int, size: int, protect: int, data: bytes = b"") -> Mapping:
        """A private committed allocation (VirtualAllocEx)."""
        region = Region(base, base + size, base, protect, MEM_COMMIT, MEM_PRIVATE, None)
        return self.map(Mapping(base, (region,), None, data))

    def protect(self, base: int, protect: int) -> None:
        """Change a private allocation's protection (VirtualProtectEx on the whole allocation)."""
        old = self._by_base[base]
        region = old.regions[0]
        new = Region(region.start, region.end, region.alloc_base, protect, region.state, region.type, None)
        old.regions = (new,)
        self.version = next(_VERSIONS)

    def mapping_at(self, address: int) -> Mapping | None:
        """The mapping containing `address`."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0:
            return None
        m = self._maps[i]
        return m if address < m.end else None

    def modules(self) -> list[Mapping]:
        """Mapped images, lowest base first."""
        return [m for m in self._maps if m.spec is not None]

    # -- the driver's questions (swk.kernel.model.memory.AddressSpace) -------------------------------------------

    def query(self, address: int) -> Region | None:
        """The uniform region containing `address` (None when nothing is mapped there)."""
        m = self.mapping_at(address)
        if m is None:
            return None
        for region in m.regions:
            if region.start <= address < region.end:
                return region
        return None

    def read(self, address: int, size: int) -> bytes | None:
        """Bytes of one mapping (a read across an unmapped gap fails, like ZwReadVirtualMemory)."""
        m = self.mapping_at(address)
        if m is None or address + size > m.end:
            return None
        return m.byte_source(address, size)

    def export(self, module_base: int, name: str) -> int | None:
        """Address of an export of the image mapped at `module_base`."""
        m = self._by_base.get(module_base)
        if m is None or m.spec is None or name not in m.spec.exports:
            return None
        return module_base + m.spec.exports[name]

    def unwind_covers(self, address: int) -> bool:
        """Whether a RUNTIME_FUNCTION of the image covers `address` (all of `.text` has unwind data)."""
        m = self.mapping_at(address)
        if m is None or m.spec is None:
            return False
        lo, size = m.spec.text
        return lo <= address - m.base < lo + size

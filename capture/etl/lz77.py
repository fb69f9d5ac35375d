"""Plain LZ77 ("Xpress", [MS-XCA] 2.3/2.4): the compression of ETW buffers written in compressed mode.

Written from the [MS-XCA] pseudo-code. Compressed traces are rare (`EVENT_TRACE_COMPRESSED_MODE`, Windows 8+), so
this favours clarity over speed. `compress` exists so tests and the writer can build compressed buffers.
"""

from __future__ import annotations

import struct


class DecompressError(ValueError):
    """The input is not valid plain LZ77."""


def decompress(data: bytes, limit: int = 64 << 20) -> bytes:
    """Decompress plain LZ77 `data`; output larger than `limit` bytes is refused as damage."""
    out = bytearray()
    n = len(data)
    ip = 0
    flags = flag_count = 0
    half = -1  # position of the byte whose high nibble the next 7-length match uses
    while ip < n:
        if flag_count == 0:
            if ip + 4 > n:
                raise DecompressError(f"flag word cut at input byte {ip}")
            flags = struct.unpack_from("<I", data, ip)[0]
            ip += 4
            flag_count = 32
            if ip == n:
                break
        flag_count -= 1
        if not flags >> flag_count & 1:
            out.append(data[ip])
            ip += 1
            continue
        if ip + 2 > n:
            if ip == n:
                break
            raise DecompressError(f"match cut at input byte {ip}")
        match = data[ip] | data[ip + 1] << 8
        ip += 2
        length, distance = match & 7, (match >> 3) + 1
        if length == 7:
            if half < 0:
                if ip >= n:
                    raise DecompressError(f"length nibble missing at input byte {ip}")
                length, half = data[ip] & 15, ip
                ip += 1
            else:
                length, half = data[half] >> 4, -1
            if length == 15:
                if ip >= n:
                    raise DecompressError(f"length byte missing at input byte {ip}")
                length = data[ip]
                ip += 1
                if length == 255:
                    if ip + 2 > n:
                        raise DecompressError(f"length word missing at input byte {ip}")
                    length = struct.unpack_from("<H", data, ip)[0]
                    ip += 2
                    if length == 0:
                        if ip + 4 > n:
                            raise DecompressError(f"length dword missing at input byte {ip}")
                        length = struct.unpack_from("<I", data, ip)[0]
                        ip += 4
                    if length < 22:
                        raise DecompressError(f"match length {length} < 22 at input byte {ip}")
                    length -= 22
                length += 15
            length += 7
        length += 3
        if distance > len(out):
            raise DecompressError(f"match reaches {distance} bytes back with {len(out)} decoded")
        if len(out) + length > limit:
            raise DecompressError(f"output exceeds {limit} bytes")
        start = len(out) - distance
        if distance >= length:
            out += out[start : start + length]
        else:  # overlapping copy repeats the last `distance` bytes
            chunk = out[start:]
            out += (chunk * (length // distance + 1))[:length]
    return bytes(out)


def compress(data: bytes) -> bytes:
    """Plain LZ77 of `data` (greedy, 3-byte hash); valid input for `decompress` and Windows' decoder."""
    out = bytearray()
    flags = flag_count = 0
    flag_pos = 0
    half = -1
    table: dict[bytes, int] = {}
    i, n = 0, len(data)

    def start_group() -> None:
        nonlocal flag_pos
        flag_pos = len(out)
        out.extend(b"\0\0\0\0")

    start_group()
    while i < n:
        key = data[i : i + 3]
        j = table.get(key, -1) if len(key) == 3 else -1
        table[key] = i
        length = 0
        if j >= 0 and i - j <= 8192:
            while i + length < n and data[j + length] == data[i + length] and length < 65535:
                length += 1
        if length >= 3:
            flags = flags << 1 | 1
            word = (i - j - 1) << 3
            rest = length - 3
            if rest < 7:
                out += struct.pack("<H", word | rest)
            else:
                out += struct.pack("<H", word | 7)
                rest -= 7
                nibble = min(rest, 15)
                if half < 0:
                    half = len(out)
                    out.append(nibble)
                else:
                    out[half] |= nibble << 4
                    half = -1
                if rest >= 15:
                    rest -= 15
                    if rest < 255:
                        out.append(rest)
                    else:
                        out.append(255)
                        out += struct.pack("<H", rest + 22)
            i += length
        else:
            flags <<= 1
            out.append(data[i])
            i += 1
        flag_count += 1
        if flag_count == 32:
            struct.pack_into("<I", out, flag_pos, flags)
            flags = flag_count = 0
            start_group()
    # Unused flag bits are set: a match flag with no input left is how the decoder knows the stream ended.
    free = 32 - flag_count
    struct.pack_into("<I", out, flag_pos, (flags << free | ((1 << free) - 1)) & 0xFFFFFFFF)
    return bytes(out)

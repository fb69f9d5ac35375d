"""The client's JSONL lines to their eight fields, a chunk at a time: numpy over the bytes for lines in the client's
exact shape, `json.loads` for the rest.

A line the client wrote has exactly 26 quotes when its message needs no escape: `{"ts":"…","source":"sleepwalker-
client","category":"…","kind":"…","severity":N,"pid":N,"targetPid":N,"message":"…"}`. Quote positions, found for a
whole chunk at once, give every field's span; fixed keys are compared, digits and the timestamp decoded, all as array
operations. Any other line (escapes, reordered keys, CRLF, damage) is decoded on its own and joins the same arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

CATEGORIES = ("ioctl", "sleepwalker-broker", "ti-broker", "sleepwalker", "ti")
KINDS = ("handle", "thread", "detection", "event")
TS_WIDTH = 24  # YYYY-MM-DDTHH:MM:SS.mmmZ
# A fast line's fixed text, as (quote it is anchored at, offset from that quote, text); the first piece is anchored at
# the line start (quote -1) and holds the fixed-width timestamp, whose bytes are checked by `timestamps`.
_HEAD = '{"ts":"' + "#" * 24 + '","source":"sleepwalker-client","category":"'
_SKELETON = ((-1, 0, _HEAD), (11, 0, '","kind":"'), (15, 0, '","severity":'), (18, -1, ',"pid":'),
             (20, -1, ',"targetPid":'), (22, -1, ',"message":"'), (25, 0, '"}'))  # fmt: skip
_TEMPLATE = np.frombuffer("".join(text for _, _, text in _SKELETON).encode(), dtype=np.uint8)
_FIXED = np.not_equal(_TEMPLATE, ord("#"))
_PIECE = np.repeat(np.arange(len(_SKELETON)), [len(text) for _, _, text in _SKELETON])  # template byte -> piece
_OFFSET = np.concatenate([np.arange(len(text)) for _, _, text in _SKELETON])  # and its offset in the piece
_TS_AT = _HEAD.index("#")
_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22])
_SEPARATORS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z"}
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@dataclass
class Fields:
    """The fields of the decoded lines of a chunk (one entry per line, in no particular order)."""

    index: list[np.ndarray] = field(default_factory=list)  # line index within the chunk
    ts_us: list[np.ndarray] = field(default_factory=list)  # client write time, -1 when the date is impossible
    category: list[np.ndarray] = field(default_factory=list)  # index into CATEGORIES, -1 unknown
    kind: list[np.ndarray] = field(default_factory=list)  # index into KINDS, -1 unknown
    severity: list[np.ndarray] = field(default_factory=list)
    pid: list[np.ndarray] = field(default_factory=list)
    target: list[np.ndarray] = field(default_factory=list)
    message: list[pa.Array] = field(default_factory=list)

    def add(self, index: np.ndarray, ts_us: np.ndarray, category: np.ndarray, kind: np.ndarray, severity: np.ndarray,
            pid: np.ndarray, target: np.ndarray, message: pa.Array) -> None:  # fmt: skip
        """Append the fields of some lines."""
        for name, value in (("index", index), ("ts_us", ts_us), ("category", category), ("kind", kind),
                            ("severity", severity), ("pid", pid), ("target", target), ("message", message)):  # fmt: skip
            getattr(self, name).append(value)

    def joined(self) -> dict[str, Any]:
        """Every field as one array."""
        out: dict[str, Any] = {name: np.concatenate(getattr(self, name)).astype(np.int64) for name in
                               ("index", "ts_us", "category", "kind", "severity", "pid", "target")}  # fmt: skip
        out["message"] = pa.concat_arrays([m.cast(pa.string()) for m in self.message])
        return out


def lines_of(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the lines of a chunk (ends exclusive, at the `\\n` or the chunk's end)."""
    ends = np.append(np.flatnonzero(buf == 10), len(buf))  # the last line may be empty (a chunk ending in `\n\n`)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return starts, ends


def fast(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, out: Fields) -> np.ndarray:
    """Decode every line in the client's exact shape into `out`; returns the mask of lines decoded."""
    quotes = np.flatnonzero(buf == 34)
    line_of_quote = np.searchsorted(ends, quotes, side="left")
    counts = np.bincount(line_of_quote, minlength=len(starts))
    backslashes = np.bincount(np.searchsorted(ends, np.flatnonzero(buf == 92)), minlength=len(starts))
    done = np.zeros(len(starts), dtype=bool)
    last = np.clip(ends - 1, 0, max(len(buf) - 1, 0))
    candidate = (counts == 26) & (backslashes == 0) & (ends - starts > 100)
    candidate[candidate] &= (buf[starts[candidate]] == 123) & (buf[last[candidate]] == 125)
    if not candidate.any():
        return done
    rows = np.flatnonzero(candidate)
    q = quotes[candidate[line_of_quote]].reshape(-1, 26)
    # One gather of every fixed byte of every candidate line, compared with the client's template.
    anchors = np.column_stack([starts[rows] if k < 0 else q[:, k] + off for k, off, _ in _SKELETON])
    skeleton = buf[
        np.minimum(np.take(anchors, _PIECE, axis=1) + _OFFSET, len(buf) - 1)
    ]  # take: 7x faster than [:, idx]
    ok = ((skeleton == _TEMPLATE) | ~_FIXED).all(axis=1) & (q[:, 25] == ends[rows] - 2)
    severity, ok_s = _number(buf, q[:, 17] + 1, q[:, 18])
    pid, ok_p = _number(buf, q[:, 19] + 1, q[:, 20])
    target, ok_t = _number(buf, q[:, 21] + 1, q[:, 22])
    ok &= ok_s & ok_p & ok_t & (q[:, 3] - q[:, 2] - 1 == TS_WIDTH)
    category = _choice(buf, q[:, 10] + 1, q[:, 11], CATEGORIES)
    kind = _choice(buf, q[:, 14] + 1, q[:, 15], KINDS)
    ok &= (category >= 0) & (kind >= 0)  # anything else goes the slow way, which names it in its reject
    ts_us, ok_ts = timestamps(skeleton[:, _TS_AT : _TS_AT + TS_WIDTH])
    ok &= ok_ts
    keep = np.flatnonzero(ok)
    done[rows[keep]] = True
    out.add(rows[keep], ts_us[keep], category[keep], kind[keep], severity[keep], pid[keep], target[keep],
            _strings(buf, q[keep, 24] + 1, q[keep, 25]))  # fmt: skip
    return done


def _number(buf: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`:<1-10 digits>,` in [a, b): the value and whether the span had that shape and fits 32 bits."""
    width = 10
    lo, hi = a + 1, b - 1  # inside the ':' and the ','
    length = hi - lo
    ok = (
        (buf[np.minimum(a, len(buf) - 1)] == 58) & (buf[np.maximum(b - 1, 0)] == 44) & (length >= 1) & (length <= width)
    )
    at = hi[:, None] - width + np.arange(width)
    inside = at >= lo[:, None]
    digits = buf[np.clip(at, 0, len(buf) - 1)].astype(np.int64) - 48
    ok &= ((digits >= 0) & (digits <= 9) | ~inside).all(axis=1)
    value = (np.where(inside, digits, 0) * 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)).sum(axis=1)
    return value, ok & (value <= 0xFFFFFFFF)  # the client prints unsigned 32-bit values


def _choice(buf: np.ndarray, a: np.ndarray, b: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Index of the name the span [a, b) holds, -1 when none (only spans of a name's length are compared)."""
    out = np.full(len(a), -1, dtype=np.int64)
    for i, name in enumerate(names):
        rows = np.flatnonzero(b - a == len(name))
        want = np.frombuffer(name.encode(), dtype=np.uint8)
        same = (buf[a[rows, None] + np.arange(len(want))] == want).all(axis=1)
        out[rows[same]] = i
    return out


def _strings(buf: np.ndarray, a: np.ndarray, b: np.ndarray) -> pa.Array:
    """The spans [a, b) of the chunk as a string array (the chunk is valid UTF-8 and spans end at ASCII bytes)."""
    lengths = b - a
    offsets = np.zeros(len(a) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    at = np.repeat(a - offsets[:-1], lengths) + np.arange(offsets[-1])
    return pa.LargeStringArray.from_buffers(len(a), pa.py_buffer(offsets), pa.py_buffer(buf[at].tobytes()))


def timestamps(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unix µs of (n, 24) `YYYY-MM-DDTHH:MM:SS.mmmZ` byte rows, and which rows were real times."""
    digits = text[:, _DIGITS].astype(np.int64) - 48
    ok = ((digits >= 0) & (digits <= 9)).all(axis=1)
    for at, sep in _SEPARATORS.items():
        ok &= text[:, at] == ord(sep)
    d = np.where(ok[:, None], digits, 0)
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month, day = d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]
    hour, minute, second = d[:, 8] * 10 + d[:, 9], d[:, 10] * 10 + d[:, 11], d[:, 12] * 10 + d[:, 13]
    ms = d[:, 14] * 100 + d[:, 15] * 10 + d[:, 16]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days) & (hour < 24) & (minute < 60) & (second < 60)
    # Days from the civil date (Howard Hinnant's algorithm), so no per-row datetime is built.
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    us = ((days * 86400 + hour * 3600 + minute * 60 + second) * 1000 + ms) * 1000
    return np.where(ok, us, -1), ok


# -- the slow way: one line at a time -------------------------------------------------------------------------------


def loads(text: str) -> tuple[dict[str, Any] | None, bool]:
    """The JSON object of a line; a message cut after a lone backslash is repaired by dropping it (and said so)."""
    for attempt, cut in ((text, False), (_uncut(text), True)):
        if attempt is None:
            continue
        try:
            obj = json.loads(attempt, strict=False)
        except ValueError:
            continue
        return (obj, cut) if isinstance(obj, dict) else (None, False)
    return None, False


def _uncut(text: str) -> str | None:
    """A line whose message ended in half an escape (`...\\"}`): the odd trailing backslash removed."""
    if not text.endswith('"}'):
        return None
    body = text[:-2]
    run = len(body) - len(body.rstrip("\\"))
    return body[:-1] + '"}' if run % 2 else None


def checked(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The client's fields of a decoded object when every key is there with the client's type, else None."""
    fields = {k: obj.get(k) for k in ("ts", "category", "kind", "severity", "pid", "targetPid", "message")}
    ints = all(type(fields[k]) is int and 0 <= fields[k] <= 0xFFFFFFFF for k in ("severity", "pid", "targetPid"))
    strs = all(isinstance(fields[k], str) for k in ("ts", "category", "kind", "message"))
    return fields if ints and strs and len(fields["ts"].encode()) == TS_WIDTH else None

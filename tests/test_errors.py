"""Errors cross process boundaries whole: a worker process's input error reaches the user as it would here."""

from __future__ import annotations

import pickle

from swk.errors import InputError, WrongFormat


def test_input_errors_survive_pickling_with_their_place_and_hint():
    for made in (WrongFormat("/logs/a.evtx", 0x300, "file header magic 50 4b"),
                 InputError("/logs/b.jsonl", 12, "not JSON", line=True, hint="fix line 12")):  # fmt: skip
        back = pickle.loads(pickle.dumps(made))
        assert type(back) is type(made)
        assert (str(back), back.path, back.offset, back.hint) == (str(made), made.path, made.offset, made.hint)
        assert back.one_line() == made.one_line()

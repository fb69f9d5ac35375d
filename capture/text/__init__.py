"""Sleepwalker's own text outputs, read and written: the client's JSONL log and console, the test suite's console,
the ETW printer's blocks and the controller's log (spec 4, 5). Readers are registered in `swk.capture.FORMATS`;
writers in `swk.capture.outputs.WRITERS`.
"""

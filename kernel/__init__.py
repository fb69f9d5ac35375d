"""The driver's contract (ABI, ETW provider, flags, detection catalogue) and the executable model of its logic.

Nothing here imports from the rest of swk: this is the reference everything else is checked against.
"""

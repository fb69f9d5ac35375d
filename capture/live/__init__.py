"""`swk capture live`: Sleepwalker telemetry captured on the monitored host straight into a case.

Sources (`sources`, `recorded`), each in a thread of its own, hand items (`items`) through one bounded inbox to a
capture loop that decodes them with the decoders `swk ingest` uses and writes rolling, atomic Parquet parts. What
touches Windows is thin and imported inside the function that needs it: `win32` (device handle, clock, elevation),
`etw_session` (pywintrace) and `service` (pywin32). The pipe protocol (`protocol`, `broker`, `emulator`), the
device requests (`device`), the broker's ETW uplink (`uplink`), the EVENT_RECORD copy (`evntcons`, `etw_rows`),
the loop (`loop`, `rolling`, `health`) and the recorded replays are plain Python, tested on bytes on any platform.
"""

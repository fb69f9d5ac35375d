"""`swk capture live`: Sleepwalker telemetry captured on the monitored host straight into a case.

Sources (each a thread putting items on one bounded queue) feed one capture loop that decodes them with the same
decoders `swk ingest` uses and writes rolling, atomic Parquet parts. Everything that touches Windows is thin and
imported inside the function that needs it: `win32` (device handle, clock, elevation), `etw_session` (pywintrace)
and `service` (pywin32). The pipe protocol (`protocol`, `broker`), the device requests (`device`), the broker's ETW
uplink (`uplink`), the EVENT_RECORD walk (`evntcons`), the loop (`loop`, `rolling`, `health`) and the recorded
source (`sources.RecordedSource`) are plain Python, tested on bytes on any platform.
"""

"""ETW trace files (.etl): our own container walker, TraceLogging and manifest decoders, and a writer.

`reader` is the input format `etl` (`sniff`/`read`), `record.decode_record` turns one live EVENT_RECORD's parts into
the same case row, and `writer.write` produces a real `.etl` from case rows. Nothing here imports a third-party ETW
library: the layouts are declared in `layout`, from the Windows headers and Geoff Chappell's ETW studies.
"""

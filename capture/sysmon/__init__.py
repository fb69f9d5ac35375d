"""Windows event logs (Sysmon, Security, any channel) from .evtx files and JSON-lines exports, mapped to the case."""

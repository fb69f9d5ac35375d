"""swk: after-the-fact analysis of Sleepwalker kernel telemetry and Sysmon logs."""

__version__ = "0.1.0"

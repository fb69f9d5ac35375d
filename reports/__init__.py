"""Self-contained HTML incident reports."""

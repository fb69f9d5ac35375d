"""The case: its schema, the atomic streaming writer, the reader and the summary."""

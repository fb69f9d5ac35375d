"""HTML incident reports: one self-contained page per case (`swk report`), built from the analyze views."""

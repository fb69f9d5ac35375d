"""`python -m swk`."""

from swk.cli import main

main()

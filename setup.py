"""Lists swk's packages: the repository root is `swk`, every folder with an `__init__.py` below it a sub-package."""

from setuptools import find_packages, setup

EXCLUDE = ["tests", "tests.*", "bench", "bench.*", "docs", "build", "build.*", "demo", "demo.*"]
# Folders of package data only (SQL, templates): listed too, so setuptools installs them without a warning.
DATA = ["swk.analyze.views", "swk.reports.queries", "swk.reports.templates"]
setup(packages=["swk", *(f"swk.{name}" for name in find_packages(".", exclude=EXCLUDE)), *DATA])

# Two commands on a fresh machine: `make demo` and `make test`. Both build the venv they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SWK := $(VENV)/bin/swk
DEMO := demo

.PHONY: demo test bench lint clean venv

$(VENV)/.installed: pyproject.toml setup.py requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) -m swk.capture.demo $(DEMO)
	$(SWK) analyze $(DEMO)/case.parquet
	$(PY) -m swk.reports.demo $(DEMO)

test: venv
	bash .ci/system-deps
	$(PY) -m pytest -q

bench: venv
	$(PY) bench/run.py

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) $(DEMO) .bench build *.egg-info

# Reinforcement Learning Foundations: every target builds .venv first if needed.
SHELL := /bin/bash
PYTHON_BASE ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export MPLBACKEND ?= Agg

.PHONY: help venv browser-deps lab test lint format release validate autograde feedback grades bench clean

help:
	@echo "make lab        set up and open JupyterLab on notebooks/ (students)"
	@echo "make test       set up and run the whole test suite (maintainers, CI)"
	@echo "make release    regenerate notebooks/ from solutions/ (instructors)"
	@echo "make validate NB=notebooks/01_bandits/01_bandits.ipynb   nbgrader's Validate from a terminal"
	@echo "make autograde | feedback | grades   grade collected submissions (see README)"
	@echo "make bench      runtime of every lesson, as a table"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON_BASE) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade-strategy only-if-needed -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e . --config-settings editable_mode=compat
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		(apt-get install -y -q chromium >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) || \
		echo "could not install chromium: the browser tests will be skipped"; \
	else echo "no /usr/bin/chromium and no root apt-get: the browser tests will be skipped"; fi

lab: $(STAMP)
	$(PY) -m grader.lab

lint: $(STAMP)
	$(VENV)/bin/ruff check rlhelpers grader tests solutions bench
	$(VENV)/bin/ruff format --check rlhelpers grader tests solutions bench

format: $(STAMP)
	$(VENV)/bin/ruff check --fix rlhelpers grader tests solutions bench
	$(VENV)/bin/ruff format rlhelpers grader tests solutions bench

test: $(STAMP) browser-deps lint
	$(PY) -m grader.release --sources-only
	$(PY) -m grader.release --sources-only --root tests/fixtures/course
	$(PY) -m pytest -n 2 --dist loadfile --nbval-lax --nbval-cell-timeout=300 tests solutions

release: $(STAMP)
	$(PY) -m grader.release

validate: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make validate NB=path/to/notebook.ipynb"; exit 2; }
	$(PY) -m nbgrader validate "$(NB)"

autograde: $(STAMP)
	$(PY) -m grader.release --sources-only
	for lesson in $$(ls solutions); do $(PY) -m nbgrader autograde $$lesson; done

feedback: $(STAMP)
	for lesson in $$(ls solutions); do $(PY) -m nbgrader generate_feedback $$lesson; done

grades: $(STAMP)
	$(PY) -m nbgrader export --to grader/work/grades.csv
	@echo "wrote grader/work/grades.csv"

bench: $(STAMP)
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) grader/work .pytest_cache .ruff_cache solutions/*/*.ipynb

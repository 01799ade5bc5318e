# Two commands for a newcomer: `make lab` (JupyterLab on the course) and `make test`.
# Both create .venv if missing and install the pinned environment; the install is skipped
# when requirements.txt, constraints.txt and pyproject.toml have not changed since.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_ARGS ?=
PYTEST_ARGS ?=
export TF_USE_LEGACY_KERAS := 1

.PHONY: lab test install labs autograde feedback grades zoo clean-grading help

help:
	@echo "make lab      set up .venv if needed and start JupyterLab (LAB_ARGS=\"--no-browser --port 8888\")"
	@echo "make test     set up .venv if needed and run the whole test suite (fast mode)"
	@echo "make labs     regenerate the student labs/ from the nbgrader sources in solutions/"
	@echo "make autograde | feedback | grades   grade grading/submitted/ (one sandbox each), write feedback, export grades.csv"

install: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required, found " + sys.version.split()[0] + ": set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade "pip>=24"
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

# Jupyter refuses to start as root (containers, CI) without --allow-root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ROOT_FLAG) $(LAB_ARGS)

test: $(STAMP)
	COURSE_FAST=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

labs: $(STAMP)
	$(BIN)/python -m course_lib.grading generate

# Each step grades everyone it can and reports the rest (exit 1); the leading `-` lets
# `make autograde feedback grades` go on to the next step. No sandbox tool (macOS, Windows):
# `make autograde GRADING_ARGS=--unsafe` grades without one, for submissions you trust.
GRADING_ARGS ?=
autograde: $(STAMP)
	-$(BIN)/python -m course_lib.grading autograde $(GRADING_ARGS)

feedback: $(STAMP)
	-$(BIN)/python -m course_lib.grading feedback

grades: $(STAMP)
	-$(BIN)/python -m course_lib.grading grades

zoo: $(STAMP)
	for m in $$($(BIN)/course-lib zoo list --names); do $(BIN)/course-lib zoo train $$m; done

# Two commands for a newcomer: `make lab` (JupyterLab on the course) and `make test`.
# Both create .venv if missing and install the pinned environment; the install is skipped
# when requirements.txt, constraints.txt and pyproject.toml have not changed since.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_ARGS ?=
LAB_ROOT ?= $(CURDIR)
PYTEST_ARGS ?=
# `make test` skips tests marked slow (notebooks, nbgrader round trips, full compress runs);
# `make test-all` (or `make test TEST_MARKERS=`) runs everything, as CI does.
TEST_MARKERS ?= not slow
export TF_USE_LEGACY_KERAS := 1

.PHONY: help install lab test test-all site zoo
# BEGIN INSTRUCTOR ONLY: `make release` cuts every such block (to its END line) from the student's Makefile;
# their targets need solutions/, grading/ or the grading tooling, which the release does not ship.
.PHONY: labs autograde feedback grades schedule collect exam return instructor-lab release
# END INSTRUCTOR ONLY

help:
	@echo "make install  create .venv and install the pinned environment and course_lib (make lab and make test do it too)"
	@echo "make lab      set up .venv if needed and start JupyterLab (LAB_ARGS=\"--no-browser --port 8888\")"
	@echo "make test     set up .venv if needed and run the test suite without the slow tests (fast mode)"
	@echo "make test-all the whole test suite, slow tests included (what CI runs)"
	@echo "make site     execute every lecture (fast mode) and write static HTML to site/"
	@echo "make zoo      retrain every zoo checkpoint with its fixed seed on the CPU (the trained ones ship with the course)"
# BEGIN INSTRUCTOR ONLY
	@echo "make labs     regenerate the student labs/ from the nbgrader sources in solutions/"
	@echo "make autograde | feedback | grades   grade grading/submitted/ (one sandbox each), write feedback, export grades.csv"
	@echo "                 (grades also writes grading/course_totals.csv: seminar, project, exam, total, letter)"
	@echo "make schedule  due dates of grading/term.toml into the gradebook"
	@echo "make collect ASSIGNMENT=A ZIP=file.zip [WORKSHEET=sheet.csv UTC_OFFSET=+01:00]   collect a Moodle download"
	@echo "make exam STUDENTS=file   a final-exam copy per student in grading/exam/ (one id a line)"
	@echo "make return    pack grading/feedback/STUDENT/ into grading/return/STUDENT.zip"
	@echo "make instructor-lab   JupyterLab in grading/ with nbgrader's formgrader (LAB_ARGS as for make lab)"
	@echo "make release DEST=DIR write the student repository's tree (no solutions, hidden tests, graders' guides)"
# END INSTRUCTOR ONLY

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

# Students' JupyterLab: etc/jupyter-student hides nbgrader's instructor tools (formgrader, create
# assignment) and keeps Validate.
# BEGIN INSTRUCTOR ONLY
# Instructors grade in `make instructor-lab`.
# END INSTRUCTOR ONLY
lab: $(STAMP)
	JUPYTER_CONFIG_PATH="$(CURDIR)/etc/jupyter-student$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))" \
		$(BIN)/jupyter lab --ServerApp.root_dir="$(LAB_ROOT)" $(ROOT_FLAG) $(LAB_ARGS)

# BEGIN INSTRUCTOR ONLY
instructor-lab: $(STAMP)
	cd grading && ../$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)/grading" $(ROOT_FLAG) $(LAB_ARGS)

release:
	@test -n "$(DEST)" || { echo "usage: make release DEST=DIR (a new or empty folder, or an earlier release)"; exit 2; }
	$(PYTHON) scripts/make_release.py "$(DEST)"
# END INSTRUCTOR ONLY

site: $(STAMP)
	COURSE_FAST=1 $(BIN)/python scripts/build_site.py site

test: $(STAMP)
	COURSE_FAST=1 $(BIN)/python -m pytest -m "$(TEST_MARKERS)" $(PYTEST_ARGS)

test-all: $(STAMP)
	COURSE_FAST=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

zoo: $(STAMP)
	for m in $$($(BIN)/course-lib zoo list --names); do $(BIN)/course-lib zoo train $$m; done

# BEGIN INSTRUCTOR ONLY
labs: $(STAMP)
	$(BIN)/python -m course_lib.grading generate

# Each step grades everyone it can and reports the rest (exit 1); the leading `-` lets
# `make autograde feedback grades` go on to the next step. No sandbox tool (macOS, Windows):
# `make autograde GRADING_ARGS=--unsafe` grades without one, for submissions you trust.
# The sandboxed pass skips the assignments of grading/term.toml's [autograde] no_execute;
# finish-autograde grades them without running them (their outputs are the evidence).
GRADING_ARGS ?=
autograde: $(STAMP)
	-$(BIN)/python -m course_lib.grading autograde $(GRADING_ARGS)
	$(BIN)/python -m course_lib.assessment finish-autograde

feedback: $(STAMP)
	-$(BIN)/python -m course_lib.grading feedback

grades: $(STAMP)
	-$(BIN)/python -m course_lib.grading grades
	$(BIN)/python -m course_lib.assessment rollup

# The term (grading/term.toml, grading/README.md): due dates, LMS collection, exam copies, return.
schedule: $(STAMP)
	$(BIN)/python -m course_lib.assessment schedule

collect: $(STAMP)
	@test -n "$(ZIP)" -a -n "$(ASSIGNMENT)" || { echo "usage: make collect ASSIGNMENT=lab03_quantization ZIP=moodle.zip [WORKSHEET=sheet.csv UTC_OFFSET=+01:00]"; exit 2; }
	$(BIN)/python -m course_lib.assessment collect "$(ASSIGNMENT)" "$(ZIP)" $(if $(WORKSHEET),--worksheet "$(WORKSHEET)") $(if $(UTC_OFFSET),--utc-offset "$(UTC_OFFSET)")

exam: $(STAMP)
	@test -n "$(STUDENTS)" || { echo "usage: make exam STUDENTS=students.txt (one student id a line) [SEED=n]"; exit 2; }
	$(BIN)/python -m course_lib.assessment exam make --students "$(STUDENTS)" $(if $(SEED),--seed $(SEED))

return: $(STAMP)
	$(BIN)/python -m course_lib.assessment return
# END INSTRUCTOR ONLY

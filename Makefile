# The commands of README.md. Every target sets the workspace up first (fast when nothing changed).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTEST_ARGS ?=
PYTEST_TIMEOUT ?= 600
DEMO_ARGS ?=

.PHONY: help setup test demo clean distclean

help:
	@echo "make demo   set up, then run the rsdfm demo"
	@echo "make test   set up, then run the whole test suite (slow tests included)"
	@echo "make setup  only set up: .venv, ROS 2 wheels, colcon build (scripts/setup.sh)"
	@echo "make clean  remove build/, install/, log/ and out/ (make distclean also removes .venv)"

setup:
	bash scripts/setup.sh

# -m "" selects every test, also those marked slow that pytest.ini leaves out by default.
# pytest exits 5 when it ran no test: that is a failure here, never a pass.
test: setup
	source ./env.sh && { python -m pytest -m "" --timeout=$(PYTEST_TIMEOUT) $(PYTEST_ARGS) test; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest ran no test" >&2; exit 1; fi; exit $$rc; }

# The demo subcommand when its module exists (rsdfm_core or rsdfm_bringup commands/demo.py);
# until then the smallest real thing the stack does: simulate a short bag.
demo: setup
	source ./env.sh && if ls src/*/*/commands/demo.py >/dev/null 2>&1; then rsdfm demo $(DEMO_ARGS); \
	  else rsdfm simulate --out out/demo_bag --frames 10 $(DEMO_ARGS); fi

clean:
	rm -rf build install log out .setup-stamp.lock

distclean: clean
	rm -rf .venv

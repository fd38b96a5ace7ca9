# The two commands of the README: `make demo` and `make test`. Both set up first.
# VENV / PYTHON: which environment and interpreter (e.g. make test-fast VENV=.venv-py312 PYTHON=python3.12).
VENV ?= .venv
PYTHON ?= python3.11
SEAL := $(VENV)/bin/seal
PYTEST := $(VENV)/bin/python -m pytest
# Every process the project starts keeps DDS discovery on this machine.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export MUJOCO_GL ?= egl

.PHONY: setup demo test test-fast test-load bench clean

setup:
	@VENV=$(VENV) PYTHON=$(PYTHON) bash scripts/setup.sh

demo: setup
	$(SEAL) demo --out out/demo

test: setup
	$(PYTEST) tests

# Unit tests only (no ROS processes, no MuJoCo): seconds.
test-fast: setup
	$(PYTEST) -m unit tests

# The whole suite 3 times in a row beside a busy loop on every core (about an hour on 2 cores).
test-load: setup
	$(SEAL) test-load --runs 3 --json out/test_load/result.json

bench: setup
	$(SEAL) bench --json out/bench.json

clean:
	rm -rf build out

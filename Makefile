# The two commands of the README: `make demo` and `make test`. Both set up first.
VENV := .venv
SEAL := $(VENV)/bin/seal
PYTEST := $(VENV)/bin/python -m pytest
# Every process the project starts keeps DDS discovery on this machine.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export MUJOCO_GL ?= egl

.PHONY: setup demo test test-fast bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(SEAL) demo --out out/demo

test: setup
	$(PYTEST) tests

# Unit tests only (no ROS processes, no MuJoCo): seconds.
test-fast: setup
	$(PYTEST) -m unit tests

bench: setup
	$(SEAL) bench --json out/bench.json

clean:
	rm -rf build out

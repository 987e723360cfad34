# flowpack: `make test` installs every test need (pip, npm, the test servers) and runs the suite.
PY ?= python3

.PHONY: install demo test deps lint typecheck pytest bench

install:
	$(PY) -m pip install -q -e .

demo: install
	flowpack register -p examples/flows/my_flow.py --project demo
	flowpack run demo/example

test: deps lint typecheck pytest

deps:
	$(PY) -m pip install -q -e '.[test]'
	bash scripts/install-test-servers.sh

lint:
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks

typecheck:
	$(PY) -m mypy

pytest:
	$(PY) -m pytest -n 2 -q -p no:cacheprovider

bench:
	$(PY) benchmarks/run.py

# flowpack: `make demo` installs flowpack and runs the example flow on the default local store;
# `make test` installs every test need (pip, apt and npm packages, the test servers) and runs the
# whole suite.  Installs go through requirements/lock.txt, so they resolve the same way every time
# and never backtrack; `make lock` regenerates it from pyproject.toml.
PY ?= python3
LOCK := requirements/lock.txt
PIP := $(PY) -m pip install -q --disable-pip-version-check
STEP := bash scripts/step.sh
# The CLI of the Python installed into, whether or not its scripts folder is on PATH.
FLOWPACK := $(PY) -m flowpack

.PHONY: install demo test deps lint typecheck pytest bench lock

install:
	@$(STEP) "install flowpack (pinned by $(LOCK))" $(PIP) -c $(LOCK) -e .

demo: install
	@$(STEP) "create project demo" $(FLOWPACK) project create demo --skip-if-exists
	@$(STEP) "register examples/flows/my_flow.py in project demo" \
		$(FLOWPACK) register -p examples/flows/my_flow.py --project demo
	@$(STEP) "run demo/example" $(FLOWPACK) run demo/example

test: deps lint typecheck pytest

deps:
	@$(STEP) "install the test needs from $(LOCK)" $(PIP) -r $(LOCK)
	@$(STEP) "install flowpack itself (editable)" $(PIP) --no-deps -e '.[test]'
	@$(STEP) "install the test servers" env PY=$(PY) bash scripts/install-test-servers.sh

lint:
	@$(STEP) "ruff check" $(PY) -m ruff check src tests benchmarks
	@$(STEP) "ruff format --check" $(PY) -m ruff format --check src tests benchmarks
	@$(STEP) "lint-imports (layer contracts in pyproject.toml)" env PYTHONPATH=src \
		$(PY) -c "from importlinter.cli import lint_imports_command; lint_imports_command()"
	@$(STEP) "vulture (dead code; false positives in scripts/vulture_whitelist.py)" \
		$(PY) -m vulture src/flowpack scripts/vulture_whitelist.py --min-confidence 60

typecheck:
	@$(STEP) "mypy --strict" $(PY) -m mypy

pytest:
	@$(STEP) "pytest (2 workers)" $(PY) -m pytest -n 2 -q -p no:cacheprovider

bench:
	$(PY) benchmarks/run.py

# Regenerate the lock after changing dependencies in pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra test --universal --python-version 3.10 \
		--custom-compile-command "make lock" -o $(LOCK)

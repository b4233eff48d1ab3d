# The two commands a new user needs:  make demo  |  make test
PYTHON ?= python3
VENV := .venv
SDK500 := .venv-sdk500
NODE_SDKS := tests/sdk/node/node_modules/.installed
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo serve test bench install clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/pip install $(PIP_FLAGS) -c constraints.txt -e '.[test]'
	touch $@

# The seed's SDK generation (cloudflare 5.0.0) lives in its own environment:
# the conformance tests run the same calls through it in a subprocess.
$(SDK500)/.installed: constraints-sdk500.txt
	$(PYTHON) -m venv $(SDK500)
	$(SDK500)/bin/pip install $(PIP_FLAGS) -r constraints-sdk500.txt
	touch $@

# The official TypeScript SDK, 7.x and 6.x (tests/sdk/node/package-lock.json pins them):
# the conformance tests run the same calls through it with Node.js.
$(NODE_SDKS): tests/sdk/node/package.json tests/sdk/node/package-lock.json
	cd tests/sdk/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed

## Install, load the synthetic demo app into ./rtk-data/rtk.db, print a token, serve on :8000.
demo: $(VENV)/.installed
	$(VENV)/bin/rtk-sessions demo

serve: $(VENV)/.installed
	$(VENV)/bin/rtk-sessions serve

## Install the test environments (Python, cloudflare 5.0.0, the TypeScript SDKs) and run the
## whole test suite (exit 5, "no tests", fails too).
test: $(VENV)/.installed $(SDK500)/.installed $(NODE_SDKS)
	RTK_TEST_SDK500_PYTHON=$(abspath $(SDK500))/bin/python $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

## Run every benchmark (each beside its ceiling) and write BENCHMARKS.md (minutes; not part of test).
bench: $(VENV)/.installed
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(SDK500) tests/sdk/node/node_modules .pytest_cache .hypothesis

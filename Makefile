# Two commands matter: `make serve` (fresh clone -> running server) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5001

.PHONY: serve test install install-test lint typecheck bench clean docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# Published Dify SDKs that all install a `dify_client` module: one target dir each, put
# first on sys.path by tests/clients (their dependencies come with the `test` extra).
CLIENTS := dify-client==0.1.10 dify-client-python==1.0.3 dify-python-sdk==0.1.16

$(VENV)/.installed-test: pyproject.toml sdk/pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]' -e sdk
	for spec in $(CLIENTS); do \
	  $(BIN)/pip install --quiet --no-deps --upgrade --target $(VENV)/clients/$${spec%%==*} $$spec; \
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

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

serve: install
	$(BIN)/chatflow serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest -q tests sdk/tests

lint: install-test
	$(BIN)/ruff check chatflow tests sdk
	$(BIN)/ruff format --check chatflow tests sdk

typecheck: install-test
	$(BIN)/mypy chatflow
	cd sdk && ../$(BIN)/mypy --strict chatflow_client

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Regenerate the README's settings table from chatflow/settings.py.
docs: install
	$(BIN)/python -c "import re,pathlib,subprocess;p=pathlib.Path('README.md');t=subprocess.run(['$(BIN)/chatflow','settings'],capture_output=True,text=True,check=True).stdout.strip();s=p.read_text();p.write_text(re.sub(r'(<!-- settings-table:start -->).*?(<!-- settings-table:end -->)',lambda m:m.group(1)+chr(10)+t+chr(10)+m.group(2),s,flags=re.S))"

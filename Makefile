# Every target runs inside .venv, created and filled on first use: a fresh clone needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SCHEMA ?= ../shared/schema

.PHONY: all demo install generate import-schema docs lint format typecheck drift pytest test bench update-goldens clean

all: test

# Strict editable install: mypy sees the real package layout (sdk/ -> tiktok_live, generated/ -> tiktok_live._generated).
# Re-run when pyproject.toml changes or when the set of package modules changes (see `generate`).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "tiktok-live needs Python 3.11+ (got $$($(PY) -V))"; exit 1; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,docs]' --config-settings editable_mode=strict
	@touch $@

install: $(STAMP)

# The main job: a scripted LIVE from the embedded simulator, shown in the terminal (no internet, no API key).
demo: $(STAMP)
	$(PY) -m tiktok_live demo

# Regenerate generated/ and docs/events.md from proto/ + templates/ (+ codegen/events.toml, sdk/_base.py mixins).
generate: $(STAMP)
	$(PY) -m codegen generate
	@$(PY) -m codegen check-install || $(PY) -m pip install -q --no-deps -e . --config-settings editable_mode=strict

# Re-import the reference schema into proto/ (default ../shared/schema; `make import-schema SCHEMA=path`).
import-schema: $(STAMP)
	$(PY) -m codegen import $(SCHEMA)

# The documentation site (mkdocs.yml) into site/; --strict: a broken link, anchor or reference fails.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP)
	@$(PY) -m codegen check-install || $(PY) -m pip install -q --no-deps -e . --config-settings editable_mode=strict
	$(VENV)/bin/mypy -p tiktok_live
	$(VENV)/bin/mypy codegen tools tests/typing/positive

# Fails when `make generate` would change anything under generated/ or docs/ (including new untracked files).
drift: generate
	@git diff --exit-code --stat -- generated/ docs/ || { echo "generated code drifted: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- generated/ docs/)" || { git status --porcelain -- generated/ docs/; echo "untracked generated files: run 'make generate' and commit"; exit 1; }

pytest: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck drift pytest docs

# Benchmarks (bench/, never collected by pytest): table on stdout and in docs/benchmarks.md, raw numbers in
# bench/results/latest.json. The first run creates .venv-bench-peer (TikTokLive 7.0.1, the peer) and the corpus.
bench: $(STAMP)
	$(PY) -m bench

update-goldens: $(STAMP)
	UPDATE_GOLDENS=1 $(VENV)/bin/pytest -q tests/codegen/test_golden.py

clean:
	rm -rf $(VENV) build site *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis

# PNGs of the dashboard and overlays for docs/web.md (simulator + `serve` app + headless Chromium; not run by tests).
.PHONY: screenshots
screenshots: $(STAMP)
	$(PY) -m tools.screenshots docs/images

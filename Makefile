# gridgis — two commands: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
HOST   ?= 127.0.0.1
export GRIDGIS_TEST_DATABASE_URL ?= postgresql://postgres:postgres@127.0.0.1:5432/postgres

.PHONY: demo test lint typecheck pytest bench clean system system-test

system:
	@scripts/ensure-system.sh python

system-test:
	@scripts/ensure-system.sh test

$(BIN)/python: | system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# opencc-python-reimplemented, which gridgis used before, installs the same import name as
# opencc: drop it from an existing venv, and opencc with it (it may have overwritten its
# files), so that the install below puts opencc back whole.
define drop-old-opencc
	@if $(BIN)/pip show -q opencc-python-reimplemented 2>/dev/null; then \
		$(BIN)/pip uninstall -q -y opencc-python-reimplemented opencc; fi
endef

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(drop-old-opencc)
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(drop-old-opencc)
	$(BIN)/pip install -q -e '.[test]'
	@touch $(VENV)/.installed $@

## demo: sample city → import → merge → publish on the configured store, then serve the map
demo: $(VENV)/.installed
	$(BIN)/gridgis demo --host $(HOST) --port $(PORT)

## test: PostgreSQL + PostGIS, Chromium, GDAL; then ruff, mypy and the whole test suite
test: system-test $(VENV)/.installed-test lint typecheck pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy gridgis api tests
	$(BIN)/mypy --explicit-package-bases bench

pytest: $(VENV)/.installed-test
	$(BIN)/pytest -q

## bench: every benchmark under bench/, each printing its ratio against a baseline (long)
bench: $(VENV)/.installed-test
	@scripts/ensure-system.sh bench
	$(BIN)/python bench/lookup_bulk.py
	$(BIN)/python bench/lookup_http.py
	$(BIN)/python bench/tiles_http.py
	$(BIN)/python bench/load_http.py
	$(BIN)/python bench/serve_footprint.py
	$(BIN)/python bench/address_match.py --scale city
	$(BIN)/python bench/merge_city.py
	$(BIN)/python bench/review_city.py
	$(BIN)/python bench/diff_city.py
	$(BIN)/python bench/proposal_city.py
	$(BIN)/python bench/city_import.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

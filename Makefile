VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

TS := typescript
NPM_STAMP := $(TS)/node_modules/.installed-stamp
DOCS_ASSETS := tests/openapi/assets
DOCS_ASSETS_STAMP := $(DOCS_ASSETS)/node_modules/.installed-stamp

.PHONY: demo test lint install system-deps bench client-ts docs-assets

demo: $(STAMP) client-ts
	$(BIN)/python -m wsapi --app-dir examples/chat main:app --host 127.0.0.1 --port 8000

test: $(STAMP) system-deps lint client-ts docs-assets
	cd $(TS) && WSAPI_PYTHON=$(abspath $(BIN))/python npm test
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# The TypeScript client: dependencies from the lockfile, then dist/ (the ES module bundle, types, wsapi-types).
client-ts: $(NPM_STAMP)
	cd $(TS) && npm run build

$(NPM_STAMP): $(TS)/package.json $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

# Swagger UI and ReDoc from npm (lockfile): the browser tests serve them in place of the CDN the pages load them from.
docs-assets: $(DOCS_ASSETS_STAMP)

$(DOCS_ASSETS_STAMP): $(DOCS_ASSETS)/package.json $(DOCS_ASSETS)/package-lock.json
	cd $(DOCS_ASSETS) && npm ci --no-audit --no-fund
	touch $(DOCS_ASSETS_STAMP)

system-deps:
	scripts/system-deps.sh

bench: $(STAMP)
	$(BIN)/python -m pip install -q -r benchmarks/requirements.txt
	$(BIN)/python -m benchmarks.run

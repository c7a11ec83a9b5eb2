# Energy Metrics API: every command a developer or CI needs; each creates what it uses.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.requirements-installed
NODE_STAMP := node_modules/.package-lock.json
TABLE ?= EnergyMetrics
LOCAL_DYNAMODB := http://127.0.0.1:4567
# Operator commands (tables, backfill) target the local server unless ENDPOINT= is given empty.
ENDPOINT ?= $(LOCAL_DYNAMODB)

STAGE ?= prod
# STAGE picks what `make package` builds; the service's own STAGE setting must not follow it into
# recipes (make exports command-line variables), or importing the app would configure it as prod.
unexport STAGE

.PHONY: install run test lint typecheck unit bench tables ingest seed backfill backfill-rollups api-key policies package format clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## make run: local DynamoDB (dynalite) + demo data + chalice local on http://127.0.0.1:8000
run: install
	$(BIN)/python -m scripts.run_local

## make test: lint, type-check, then the whole pytest suite (moto and local DynamoDB)
test: lint typecheck unit

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(PY_STAMP)
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

## make bench: service vs naive boto3 handler in fresh processes over the local DynamoDB (not part of make test)
bench: install
	$(BIN)/python -m compileall -q app.py chalicelib scripts
	$(BIN)/python -m scripts.bench

## make tables: create every table and index where missing (ENDPOINT= empty for AWS; PROTECT=1 adds PITR + deletion protection)
tables: $(PY_STAMP)
	$(BIN)/python -m scripts.ensure_tables --table $(TABLE) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT)) $(if $(PROTECT),--protect)

## make ingest FILE=readings.csv: ingest a JSON/NDJSON/CSV file into the local server
ingest: install
	@test -n "$(FILE)" || { echo "usage: make ingest FILE=path/to/readings.(json|ndjson|csv)"; exit 2; }
	$(BIN)/python -m scripts.ingest_file "$(FILE)" --endpoint-url $(LOCAL_DYNAMODB)

seed: install
	$(BIN)/python -m scripts.seed_demo_data --endpoint-url $(LOCAL_DYNAMODB)

## make backfill: add anomaly_at to legacy anomalies (local by default; ENDPOINT= empty for AWS)
backfill: $(PY_STAMP)
	$(BIN)/python -m scripts.backfill_anomaly_index --table $(TABLE) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT))

## make backfill-rollups: rollups and site registry for readings that predate ingest (ENDPOINT= empty for AWS)
backfill-rollups: $(PY_STAMP)
	$(BIN)/python -m scripts.backfill_rollups --table $(TABLE) $(if $(ENDPOINT),--endpoint-url $(ENDPOINT))

## make api-key ARGS="create --name NAME --scopes read --sites '*'" (or "list", "revoke KEY_ID"); ENDPOINT= empty for AWS
api-key: $(PY_STAMP)
	$(BIN)/python -m scripts.api_keys $(if $(ENDPOINT),--endpoint-url $(ENDPOINT)) $(ARGS)

## make policies: regenerate the per-function IAM policy files from the table definitions
policies: $(PY_STAMP)
	$(BIN)/python -m scripts.deployment policies

## make package STAGE=prod: CloudFormation (SAM) template in build/$(STAGE)/package/, checked by cfn-lint
package: $(PY_STAMP)
	$(BIN)/python -m scripts.deployment package --stage $(STAGE)
	$(BIN)/cfn-lint build/$(STAGE)/package/sam.json

format: $(PY_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules .local build .pytest_cache .mypy_cache .ruff_cache .coverage

# The two commands of the README: `make test` and `make run`. Each sets up what it needs:
# `make run` the packages serving needs (bootstrap-run), `make test` and `make deploy`
# the test and deploy toolchains on top (bootstrap, bootstrap-deploy): one .venv.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
STACK := $(PY) -m infra.local.neon_local
STAGE ?= dev
REGION ?=
SSM_PREFIX ?=
DEPLOY_ARGS ?=
OSLS := node_modules/.bin/osls
LAMBDA_RUNTIME ?=
NATIVE_ARCH = $(shell $(PY) -c 'from infra.local.runtime.emulator import host_arch; print(host_arch())')
REGION_FLAG = $(if $(REGION),--region $(REGION))
# The local stack's URLs, for targets that talk to it (quoted values, so eval, not source).
WITH_STACK_ENV = set -a && eval "$$($(STACK) env)" && set +a &&

.PHONY: help test run origin-precheck run-check bootstrap bootstrap-run bootstrap-deploy lint typecheck schema \
        revision schema-check scan pytest lock lock-check stack-start stack-stop stack-status \
        stack-env migrate verify bench deploy deploy-jobs package package-native remove rehearse

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

test: bootstrap lock-check lint typecheck schema-check scan pytest  ## everything CI checks (the test command)

# LAMBDA_RUNTIME=rie runs the packaged zips: that needs the deploy toolchain (osls, awslambdaric).
RUN_SETUP = $(if $(filter rie,$(LAMBDA_RUNTIME)),bootstrap-deploy,bootstrap-run)

run: origin-precheck $(RUN_SETUP) run-check stack-start migrate $(if $(filter rie,$(LAMBDA_RUNTIME)),package-native)  ## serve the API locally on 127.0.0.1 (the run command; LAMBDA_RUNTIME=rie: the packaged zips under the Lambda runtime)
	@echo "run: serving (Ctrl-C stops it; make stack-stop stops the database)"
	@$(WITH_STACK_ENV) LAMBDA_RUNTIME=$(LAMBDA_RUNTIME) $(PY) -m infra.local.gateway

# A FRONTEND_ORIGIN that is not origins, refused before anything is installed (the check is
# stdlib only; exit status 2 is its refusal, anything else leaves it to run-check).
origin-precheck:
	@[ -z "$${FRONTEND_ORIGIN-}" ] || ! command -v python3 >/dev/null || \
	  { python3 -m infra.serverless.origins "$$FRONTEND_ORIGIN" >/dev/null; [ $$? -ne 2 ]; }

run-check: $(RUN_SETUP)  ## check what the gateway will serve with (FRONTEND_ORIGIN) before starting anything
	@echo "run: checking the configuration (FRONTEND_ORIGIN)"
	@$(PY) -m infra.local.gateway --check

package-native: bootstrap-deploy  ## build the zips for this machine's architecture (what LAMBDA_RUNTIME=rie runs)
	PACKAGE_ARCH=$(NATIVE_ARCH) PYTHON=$(PY) $(OSLS) package --stage $(STAGE) --package .build/package-$(NATIVE_ARCH)

bootstrap:  ## the test toolchain: virtualenv with requirements-dev.lock, npm packages, chromium (idempotent)
	@infra/bootstrap.sh test

bootstrap-run:  ## what serving needs: virtualenv with requirements-run.lock (idempotent; a subset of bootstrap's)
	@infra/bootstrap.sh run

bootstrap-deploy:  ## the deploy toolchain: virtualenv with requirements-dev.lock, npm packages (idempotent)
	@infra/bootstrap.sh deploy

lint:  ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck:  ## mypy --strict over the whole tree
	$(PY) -m mypy

schema:  ## regenerate shared/tasks/models.py from specs/schema.toml
	$(PY) -m infra.codegen.schemagen

revision: bootstrap  ## after a spec change: regenerate the models, autogenerate the next revision (MSG="...")
	@test -n "$(MSG)" || { echo 'usage: make revision MSG="what changed"' >&2; exit 2; }
	$(PY) -m infra.codegen.revision -m "$(MSG)"

schema-check:  ## fail when shared/tasks/models.py no longer matches the spec
	$(PY) -m infra.codegen.schemagen --check

scan:  ## fail on anything that looks like a real credential
	$(PY) -m infra.scan_secrets

lock: bootstrap  ## re-resolve the requirements-*.lock files (UPGRADE=name ... or UPGRADE=all)
	$(PY) -m infra.packaging.locks compile $(if $(filter all,$(UPGRADE)),--upgrade,$(addprefix --upgrade-package=,$(UPGRADE)))

lock-check:  ## fail when requirements*.txt and the lock files disagree (offline)
	$(PY) -m infra.packaging.locks check

pytest:  ## the test suites (they start their own private database stack)
	$(PY) -m pytest

stack-start: bootstrap-run  ## start the local Neon-like stack (PostgreSQL + PgBouncer)
	@$(STACK) start

stack-stop:  ## stop it (data is kept in .neon-local/)
	$(STACK) stop

stack-status:
	$(STACK) status

stack-env:  ## print the local stack's URLs, password included (DATABASE_URL=...; `eval` them)
	@$(STACK) env

migrate: bootstrap-run  ## bring the local database to the spec
	@echo "migrate: bringing the local database to the spec (functions/migrate.py)"
	@$(WITH_STACK_ENV) $(PY) -m functions.migrate

verify: bootstrap-run  ## compare the local database with the spec
	$(WITH_STACK_ENV) $(PY) -m functions.verify

bench: bootstrap  ## measure round trips, latency, cold start, memory, throughput (not a test)
	$(PY) -m bench.run

.PHONY: preflight
preflight: bootstrap-deploy  ## check STAGE can deploy: credentials, region, settings, concurrency, bucket (seconds, read-only)
	$(PY) -m infra.deploy.preflight --stage $(STAGE) $(REGION_FLAG) $(if $(SSM_PREFIX),--ssm-prefix $(SSM_PREFIX)) -- $(DEPLOY_ARGS)

deploy: bootstrap-deploy  ## preflight, then deploy STAGE to AWS, then run its migrate and verify (fails loudly)
	$(PY) -m infra.deploy.deployer deploy --stage $(STAGE) $(REGION_FLAG) $(if $(SSM_PREFIX),--ssm-prefix $(SSM_PREFIX)) -- $(DEPLOY_ARGS)

deploy-jobs: bootstrap-deploy  ## run migrate, then verify, on the deployed STAGE
	$(PY) -m infra.deploy.deployer jobs --stage $(STAGE) $(REGION_FLAG)

package: bootstrap-deploy  ## build STAGE's CloudFormation template and Lambda zips offline
	PYTHON=$(PY) $(OSLS) package --stage $(STAGE) $(REGION_FLAG)

rehearse: bootstrap-deploy stack-start  ## offline deploy rehearsal: osls deploy to moto on loopback, run the stored zips, remove
	$(WITH_STACK_ENV) $(PY) -m infra.deploy.rehearse

remove:  ## delete STAGE's stack (the Neon database is untouched)
	$(OSLS) remove --stage $(STAGE) $(REGION_FLAG)

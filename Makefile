# Lifecycle: the whole interface is `make up` and `make test` (see README).
SHELL := /bin/bash
export ONNXRUNTIME_NODE_INSTALL_CUDA := skip

.PHONY: up down status test test-postgres setup lint typecheck bench drills train models rollback

# Settings given on the command line (make up INFERENCE_WORKERS=4 API_INSTANCES=2 TRAINING_WORKERS=2)
# reach the scripts as environment variables, like any other variable in the environment.

up:        ## install what is missing, start the local stack, train a champion if none, wait until served
	@bash infra/local/stack.sh up

down:      ## stop exactly what `make up` started (this checkout's state dir), nothing else
	@bash infra/local/stack.sh down

status:    ## each process: state, pid, uptime, restart count, endpoint; external services
	@bash infra/local/stack.sh status

setup:     ## npm deps and the project-local Python venv
	@bash infra/local/setup.sh

test:      ## install what is missing, start the services tests need, run lint, typecheck and every test suite
	@bash infra/local/test.sh

test-postgres: ## the lifecycle integration test with MLflow on PostgreSQL (MLFLOW_DATABASE_URL)
	@TEST_PROFILE=postgres bash infra/local/test.sh

lint:
	@npx eslint .

typecheck:
	@npx tsc -p tsconfig.json --noEmit

bench:
	@npm run bench

drills:    ## fault drills against the stack `make up` started, under load (DRILLS="worker-kill rollout --json f.json")
	@npm run -s drills -- $(DRILLS)

# The lifecycle CLI's common commands (npm run lifecycle -- help for all): make train ARGS="--param epochs=2"
train:     ## train on dataset v2, follow it live, promote through the gate (ARGS="--param epochs=2 --model NAME")
	@npm run -s lifecycle -- train $(ARGS)

models:    ## registered versions: aliases, test accuracy, dataset digest, serving workers (ARGS="--model NAME")
	@npm run -s lifecycle -- models $(ARGS)

rollback:  ## promote the version the champion replaced, through the same saga and rollout (ARGS="--model NAME")
	@npm run -s lifecycle -- rollback $(ARGS)

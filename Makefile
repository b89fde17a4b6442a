# Lifecycle: the whole interface is `make up` and `make test` (see README).
SHELL := /bin/bash
export ONNXRUNTIME_NODE_INSTALL_CUDA := skip

.PHONY: up down status test setup lint typecheck bench

up:        ## install what is missing, start the local stack, train a champion if none, wait until served
	@bash infra/local/stack.sh up

down:      ## stop exactly what `make up` started
	@bash infra/local/stack.sh down

status:    ## show each service
	@bash infra/local/stack.sh status

setup:     ## npm deps and the project-local Python venv
	@bash infra/local/setup.sh

test:      ## install what is missing, start the services tests need, run lint, typecheck and every test suite
	@bash infra/local/test.sh

lint:
	@npx eslint .

typecheck:
	@npx tsc -p tsconfig.json --noEmit

bench:
	@npm run bench

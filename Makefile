# netkingdom.warden: `make demo` and `make test` are the two commands (see README.md).
SHELL := /bin/bash

.DEFAULT_GOAL := help
.PHONY: help demo test bench lint sanity unit integration build bootstrap clean distclean

help:
	@echo "make demo         bootstrap, build, run the gate demo and the fleet demo (OpenBao, PDP, sshd hosts)"
	@echo "make test         bootstrap, build, then lint, sanity, unit and integration tests"
	@echo "make lint|sanity|unit|integration   one test stage (after bootstrap and build)"
	@echo "make bench        build, then the benchmarks on OpenBao and sshd fleets (docs/performance.md; BENCH_ARGS=--quick)"
	@echo "make build        bootstrap, build the tarball and install it into build/collections"
	@echo "make clean        remove build/ and test output (distclean: also .venv)"

demo:
	@scripts/demo

test:
	@scripts/test

lint sanity unit integration:
	@scripts/test $@

bench:
	@bench/run $(BENCH_ARGS)

build:
	@scripts/bootstrap
	@scripts/build-collection

bootstrap:
	@scripts/bootstrap

clean:
	rm -rf build tests/output .pytest_cache

distclean: clean
	rm -rf .venv .ansible

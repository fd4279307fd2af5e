# Fovea: the two commands a newcomer needs are `make demo` and `make test`.

CARGO ?= cargo

.PHONY: setup demo test lint wasm-check bench

## Install missing system pieces (Vulkan driver fallback, wasm target).
setup:
	./scripts/setup.sh

## The main job: show the adapter, self-check it, and benchmark matmul against a CPU library.
demo: setup
	$(CARGO) run --release -p fovea-cli -- info
	$(CARGO) run --release -p fovea-cli -- bench matmul

## Everything CI runs: format, lints, the adapter in use, the test suite, the wasm build check.
test: setup lint
	$(CARGO) run -q -p fovea-cli -- info --device gpu
	$(CARGO) test --workspace
	$(MAKE) wasm-check

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

wasm-check:
	$(CARGO) check -p fovea-device --target wasm32-unknown-unknown

bench: setup
	$(CARGO) run --release -p fovea-cli -- bench matmul

# Fovea: the two commands a newcomer needs are `make demo` and `make test`.

CARGO ?= cargo

.PHONY: setup demo test lint wasm-check bench

## Install missing system pieces (Vulkan driver fallback, wasm target).
setup:
	./scripts/setup.sh

FIXTURES ?= ../shared/fixtures/ops

## The main job: show the adapter, self-check it, run PyTorch's conformance cases on it (when
## the fixtures are beside the checkout), train the course's Net for a few steps, and benchmark
## conv2d against a CPU library.
demo: setup
	$(CARGO) run --release -p fovea-cli -- info
	if [ -d "$(FIXTURES)" ]; then $(CARGO) run --release --example conformance -- "$(FIXTURES)" --device gpu; fi
	$(CARGO) run --release --example seed_net
	$(CARGO) run --release -p fovea-cli -- bench conv

## Everything CI runs: format, lints, the adapter in use, the test suite, the wasm build check.
test: setup lint
	$(CARGO) run -q -p fovea-cli -- info --device gpu
	$(CARGO) test --workspace
	$(MAKE) wasm-check

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

wasm-check:
	$(CARGO) check -p fovea-device -p fovea-graph -p fovea-nn --target wasm32-unknown-unknown

bench: setup
	$(CARGO) run --release -p fovea-cli -- bench matmul
	$(CARGO) run --release -p fovea-cli -- bench conv

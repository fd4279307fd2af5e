# Fovea: the three commands a newcomer needs are `make demo`, `make test` and `make web`.

CARGO ?= cargo

.PHONY: setup demo tour test lint wasm-check web-test web-bench web web-build page-test web-shot bench

## Install missing system pieces (Vulkan driver fallback, wasm target).
setup:
	./scripts/setup.sh

FIXTURES ?= tests/fixtures/ops
EPOCHS ?= 1
RUN ?= runs/net

## The main job: install what is missing (Vulkan driver fallback, Fashion-MNIST), show the
## adapters and the device chosen, train the course's Net on Fashion-MNIST on the fastest
## device (one epoch: about 30 s on the CPU backend of 2 cores, 0.87 test accuracy; EPOCHS=3
## gives about 0.89), then write the report of what it learned. The run folder $(RUN) holds
## metrics.csv, steps.csv, loss.svg, accuracy.svg, confusion.svg, run.json, the
## checkpoints, vis/ and report.html.
demo: setup
	$(CARGO) run --release -p fovea-cli -- info
	$(CARGO) run --release -p fovea-cli -- train --model net --epochs $(EPOCHS) --out $(RUN) --overwrite
	$(CARGO) run --release -p fovea-cli -- report $(RUN)

## A tour of the lower layers: PyTorch's conformance cases (tests/fixtures/ops) and the
## course's Net defined in a dozen lines.
tour: setup
	$(CARGO) run --release -p fovea-conformance --example conformance -- "$(FIXTURES)" --device gpu
	$(CARGO) run --release --example seed_net

## Everything CI runs: format, lints, the adapter in use, the test suite, the wasm build
## check, and the browser tests in headless Chromium.
test: setup lint
	$(CARGO) run -q -p fovea-cli -- info --device gpu
	$(CARGO) test --workspace
	$(MAKE) wasm-check
	$(MAKE) web-test
	$(MAKE) page-test

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

wasm-check:
	$(CARGO) check -p fovea-device -p fovea-graph -p fovea-nn -p fovea-models -p fovea-data \
		-p fovea-vis -p fovea-io -p fovea-web --target wasm32-unknown-unknown

## Tests compiled to wasm32 and run in headless Chromium by wasm-bindgen-test-runner, on the
## browser's WebGPU (SwiftShader here) against the CPU backend built for wasm. Chromium's
## arguments come from webdriver.json files (`--enable-unsafe-webgpu`); the fallback suite
## runs Chromium without it, so no WebGPU adapter opens.
WEB_TEST_ENV = CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	CHROMEDRIVER=$$(command -v chromedriver) WASM_BINDGEN_TEST_TIMEOUT=900
WEBGPU_ON = WASM_BINDGEN_TEST_WEBDRIVER_JSON=$(CURDIR)/crates/web/webdriver.json
WEBGPU_OFF = WASM_BINDGEN_TEST_WEBDRIVER_JSON=$(CURDIR)/crates/web/webdriver-no-webgpu.json
WEB_RUN = $(CURDIR)/target/web-run
web-test:
	$(CARGO) run -q -p fovea-web --example run_fixture -- $(WEB_RUN)
	$(CARGO) clippy -p fovea-device --target wasm32-unknown-unknown --test browser -- -D warnings
	FOVEA_WEB_RUN=$(WEB_RUN) $(CARGO) clippy -p fovea-web --target wasm32-unknown-unknown \
		--tests -- -D warnings
	$(WEB_TEST_ENV) $(WEBGPU_ON) $(CARGO) test -p fovea-device --target wasm32-unknown-unknown \
		--test browser
	$(WEB_TEST_ENV) $(WEBGPU_ON) FOVEA_WEB_RUN=$(WEB_RUN) $(CARGO) test -p fovea-web \
		--target wasm32-unknown-unknown --test browser --test browser_worker --test browser_run
	$(WEB_TEST_ENV) $(WEBGPU_OFF) $(CARGO) test -p fovea-web --target wasm32-unknown-unknown \
		--test browser_fallback

## The page (web/): fovea-web built in release for wasm32, wasm-bindgen's output in web/pkg,
## Fashion-MNIST in web/data, served on 127.0.0.1:$(WEB_PORT) until Ctrl-C.
WEB_PORT ?= 8000
web: web-build
	@echo "Fovea's page: http://127.0.0.1:$(WEB_PORT)/ (Chromium on Linux needs --enable-unsafe-webgpu for WebGPU; without it the page trains on the CPU fallback)"
	python3 -m http.server $(WEB_PORT) --bind 127.0.0.1 --directory web

## Builds what the page serves, without serving it.
web-build: setup
	$(CARGO) build -p fovea-web --release --target wasm32-unknown-unknown
	wasm-bindgen --target web --out-dir web/pkg \
		target/wasm32-unknown-unknown/release/fovea_web.wasm
	./scripts/web_data.sh web/data

## The page test (web/test/page.mjs): Playwright drives Debian's chromium through the built
## page: trains the Net on WebGPU (SwiftShader) and on the CPU fallback, draws, runs every
## panel, loads a `fovea train` run and checks its predictions against `fovea predict`.
## Screenshot in $(PAGE_SHOT); `make web-shot` writes docs/web.png after a longer run.
PAGE_SHOT ?= target/page-test/web.png
PAGE_TRAIN ?= 2000
PAGE_EPOCHS ?= 3
page-test: web-build
	test -f $(WEB_RUN)/run/best.safetensors || \
		$(CARGO) run -q -p fovea-web --example run_fixture -- $(WEB_RUN)
	$(CARGO) run -q -p fovea-cli -- predict $(WEB_RUN)/run $(WEB_RUN)/images/*.png \
		--device cpu > $(WEB_RUN)/predict.txt
	cd web/test && npm ci --no-audit --no-fund --loglevel=error
	FOVEA_WEB_RUN=$(WEB_RUN) FOVEA_BIN=$(CURDIR)/target/debug/fovea PAGE_SHOT=$(PAGE_SHOT) \
		PAGE_TRAIN=$(PAGE_TRAIN) PAGE_EPOCHS=$(PAGE_EPOCHS) node web/test/page.mjs

## docs/web.png, the README's picture: the page test after two epochs of 10,000 images.
web-shot:
	$(MAKE) page-test PAGE_SHOT=docs/web.png PAGE_TRAIN=10000 PAGE_EPOCHS=2

## Figures from headless Chromium: open WebGPU, build the Net, first-step latency and
## training images/s on WebGPU and on the wasm CPU backend (release build).
web-bench:
	$(WEB_TEST_ENV) $(WEBGPU_ON) $(CARGO) test --release -p fovea-web \
		--target wasm32-unknown-unknown --test browser_speed -- --nocapture

## The benchmark suite (W1-W6: matmul, conv forward and backward, two training steps,
## VGG-16 inference) on the GPU path and the CPU backend, with PyTorch's figures and the
## ratios beside them when PyTorch is importable (scripts/bench_torch.py). Add a peer's
## figures from the same sitting with BENCH_PEERS="--peer burn=FILE".
bench: setup
	mkdir -p target/bench
	@if python3 scripts/bench_torch.py > target/bench/torch.txt; then \
		peer="--peer torch=target/bench/torch.txt"; \
	else echo "(PyTorch is not importable: Fovea's figures only)"; peer=""; fi; \
	$(CARGO) run --release -p fovea-cli -- bench suite --device gpu,cpu $$peer $(BENCH_PEERS)

## Rerun the README's accuracy claims (the Net: 1 and 3 epochs; the small VGG-BN: 5 epochs)
## on the CPU backend and print each beside the README's figure. About 30 minutes; not in CI.
.PHONY: reproduce
reproduce:
	$(CARGO) build --release -p fovea-cli
	./scripts/reproduce.sh

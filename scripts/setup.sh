#!/usr/bin/env bash
# Installs what Fovea needs on a fresh Debian/Ubuntu machine, and nothing that is already there:
#   - a Vulkan loader and driver (Mesa's lavapipe, a software Vulkan) when no Vulkan driver is
#     installed, so the WGSL kernels run even without a GPU;
#   - Fashion-MNIST (Debian's dataset-fashion-mnist) when it is in no folder Fovea searches;
#   - the wasm32 Rust target, for the browser build check;
#   - Chromium and its WebDriver (Debian's chromium, chromium-driver) and wasm-bindgen-cli at
#     the version Cargo.toml pins, for the tests that run in headless Chromium;
#   - Node.js and npm, for the page test (web/test installs playwright-core with `npm ci`).
set -euo pipefail

apt_install() {
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing $*"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
    missing+=(libvulkan1)
fi
# Any installed Vulkan driver manifest (ICD) will do; either folder may be absent or empty.
# find exits non-zero for a missing folder, which must not end the script.
icds=$(find /usr/share/vulkan/icd.d /etc/vulkan/icd.d -maxdepth 1 -name '*.json' 2>/dev/null | head -n 1 || true)
if [ -z "$icds" ]; then
    missing+=(mesa-vulkan-drivers)
fi
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] \
    && [ ! -d "${FOVEA_DATA:-data}/fashion-mnist" ]; then
    missing+=(dataset-fashion-mnist)
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    missing+=(chromium chromium-driver)
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-test-runner must be the exact version of the wasm-bindgen the tests link.
want=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' "$(dirname "$0")/../Cargo.toml")
if [ "$(wasm-bindgen-test-runner --version 2>/dev/null)" != "wasm-bindgen-test-runner $want" ]; then
    echo "setup: installing wasm-bindgen-cli $want (a few minutes)"
    cargo install wasm-bindgen-cli --version "$want"
fi

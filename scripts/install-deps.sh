#!/usr/bin/env bash
# Installs the Debian packages xgrad needs to build, test and benchmark. Idempotent: it asks
# dpkg what is already there and runs apt-get (update + install) only for what is missing.
# Uses sudo when not root. Never downloads anything but Debian packages.
set -euo pipefail

packages=(
  xtensor-dev libxsimd-dev libfmt-dev doctest-dev libopenblas-dev libbenchmark-dev
  cmake g++ ninja-build ccache pkg-config
  zlib1g-dev python3-numpy
  dataset-fashion-mnist  # Fashion-MNIST in /usr/share/datasets/fashion-mnist (data::default_fashion_mnist_dir)
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: apt-get not found; install them with your package manager" >&2
  exit 1
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing packages: ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

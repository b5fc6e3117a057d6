#!/usr/bin/env bash
# Installs the Debian 12 packages spikesim needs to build, test and plot
# (clang, libclang-rt-14-dev: the libFuzzer harnesses of scripts/test.sh;
# llvm-14: llvm-symbolizer, for sanitizer reports with file and line).
# Idempotent: installs only what is missing and prints what it installs.
# Works as root (no sudo needed) or as a user with sudo.
#
# Usage: scripts/install-deps.sh [--mpi]
#   --mpi  also OpenMPI (libopenmpi-dev, openmpi-bin: mpirun), for the
#          -DSPIKESIM_WITH_MPI=ON build (docs/concepts/ranks.md); the
#          default build needs no MPI.
set -euo pipefail

mpi=0
for arg in "$@"; do
  case "$arg" in
    --mpi) mpi=1 ;;
    *) echo "install-deps: unknown option '$arg' (expected --mpi)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake pkg-config ninja-build
  libboost-graph-dev libtbb-dev libeigen3-dev catch2
  libhdf5-dev hdf5-tools libspdlog-dev libfmt-dev
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev
  libsentencepiece-dev libicu-dev
  clang libclang-rt-14-dev llvm-14
  python3-h5py python3-numpy python3-matplotlib
)
if [ "$mpi" = 1 ]; then packages+=(libopenmpi-dev openmpi-bin); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"

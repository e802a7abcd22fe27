#!/usr/bin/env bash
# Installs what FlashJIT needs to build and test on a Debian 12 machine with the CUDA toolkit in
# /usr/local/cuda. Idempotent: it asks apt only for packages that are missing.
set -euo pipefail

packages=(cmake g++ make llvm-14-dev llvm-14-tools libsqlite3-dev nlohmann-json3-dev libgtest-dev
          zlib1g-dev libtinfo-dev python3 python3-pip
          # The fleet's remote tuning cache: hiredis (linked statically), and the Redis server its
          # tests start on a loopback port or a unix socket (redis-cli comes with it).
          libhiredis-dev redis-server
          # The Arm check of the CPU backend's kernels: cross-compiled, run under emulation.
          g++-aarch64-linux-gnu qemu-user)
# --fuzz: clang and its runtimes (libFuzzer, ASan) for the libFuzzer build (tests/fuzz/README.md);
# the default build and the fuzz replay in CTest need only g++.
if [ "${1:-}" = "--fuzz" ]; then packages+=(clang-14 libclang-rt-14-dev); fi
# --bench: Debian's OpenBLAS, the sgemm ceiling bench/compare_cpu.py sets beside the CPU backend (the
# library issue 16 measured; the script falls back to numpy's own without it). Not needed to build or test.
if [ "${1:-}" = "--bench" ]; then packages+=(libopenblas0-pthread); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f "${CUDA_HOME:-/usr/local/cuda}/include/nvrtc.h" ]; then
  echo "setup: the CUDA toolkit (NVRTC headers and library) was not found in ${CUDA_HOME:-/usr/local/cuda};" >&2
  echo "setup: install CUDA 12.x or 13.x there or set CUDA_HOME" >&2
  exit 1
fi

# nvdisasm, for the SASS check of the wgmma_sm90 kernels (tests/codegen/check_producer_registers.py),
# from NVIDIA's pip package, pinned, into .tools/ of this tree, where tests/CMakeLists.txt looks for
# it. pip's --target needs no virtual environment, no --break-system-packages (Debian's python3 is
# externally managed) and no root, and works with whichever python3 comes first.
nvdisasm_version=13.5.37
nvdisasm_dir="$(cd "$(dirname "$0")/.." && pwd)/.tools/nvidia-cuda-nvdisasm-$nvdisasm_version"
if ! compgen -G "$nvdisasm_dir/nvidia/*/bin/nvdisasm" >/dev/null; then
  echo "setup: installing nvidia-cuda-nvdisasm $nvdisasm_version into $nvdisasm_dir"
  rm -rf "$nvdisasm_dir"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
    --target "$nvdisasm_dir" "nvidia-cuda-nvdisasm==$nvdisasm_version"
fi

# The older NVRTCs, for the tests that compile real kernels for Maxwell, Pascal and Volta (sm_50..sm_72),
# which CUDA 13's NVRTC no longer targets: NVRTC 12.9 and 11.8 from NVIDIA's pip packages, pinned,
# into .tools/nvrtc-cu12 and .tools/nvrtc-cu11, the same way as nvdisasm. FlashJIT loads them at run
# time through FLASHJIT_NVRTC (tests/CMakeLists.txt finds them). Each wheel's libnvrtc has RUNPATH
# $ORIGIN and its libnvrtc-builtins beside it, so it works when dlopened by absolute path (the loader
# also loads the builtins beside a libnvrtc first: cuda/nvrtc_library.cpp).
# Installed again when the pin changes (pip's dist-info folder names the version).
install_nvrtc() {
  local package="$1" version="$2" dir="$3" soname="$4"
  if [ ! -f "$dir/nvidia/cuda_nvrtc/lib/$soname" ] || [ ! -d "$dir/${package//-/_}-$version.dist-info" ]; then
    echo "setup: installing $package $version into $dir"
    rm -rf "$dir"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
      --target "$dir" "$package==$version"
  fi
}
tools_dir="$(cd "$(dirname "$0")/.." && pwd)/.tools"
install_nvrtc nvidia-cuda-nvrtc-cu12 12.9.86 "$tools_dir/nvrtc-cu12" libnvrtc.so.12
install_nvrtc nvidia-cuda-nvrtc-cu11 11.8.89 "$tools_dir/nvrtc-cu11" libnvrtc.so.11.2

# --bench: redis-py, the Python client Triton's and Inductor's Redis caches use, for
# bench/compare_remote_cache.py's Triton-style column; pinned, into .tools/redis-py.
if [ "${1:-}" = "--bench" ]; then
  redis_py_version=5.2.1
  if [ ! -d "$tools_dir/redis-py/redis-$redis_py_version.dist-info" ]; then
    echo "setup: installing redis-py $redis_py_version into $tools_dir/redis-py"
    rm -rf "$tools_dir/redis-py"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
      --target "$tools_dir/redis-py" "redis==$redis_py_version"
  fi
fi

echo "setup: dependencies present"

#!/usr/bin/env bash
# Installs the system packages some tests need, with Debian's apt-get (the tests call this script
# themselves, so CI needs no manual step):
#   chromium  Debian's chromium, driven by playwright-core in test/browser/
#   python    python3-grpcio and python3-protobuf for /usr/bin/python3, with protoc and the gRPC
#             Python plugin (protobuf-compiler, protobuf-compiler-grpc) to generate the client of
#             examples/python/. (Debian 12's python3-grpc-tools bundles protoc 3.5, which rejects
#             the proto3 `optional` fields of proto/; Debian's protoc is 3.21.)
# Usage: scripts/setup-test-deps.sh [chromium] [python]   (no argument: both)
# Idempotent and fast when everything is installed (no apt-get at all then). Concurrent runs
# (several test files, other users of apt on the machine) wait for one another's locks.
# Exit status 0 when everything asked for is installed, non-zero otherwise.
set -euo pipefail

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(chromium python)

missing() {
  local need=()
  for what in "${want[@]}"; do
    case "$what" in
      chromium) [ -x /usr/bin/chromium ] || need+=(chromium) ;;
      python)
        /usr/bin/python3 -c 'import grpc' 2>/dev/null || need+=(python3-grpcio)
        /usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || need+=(python3-protobuf)
        [ -x /usr/bin/protoc ] || need+=(protobuf-compiler)
        [ -x /usr/bin/grpc_python_plugin ] || need+=(protobuf-compiler-grpc)
        ;;
      *) echo "setup-test-deps: unknown component '$what' (chromium, python)" >&2; exit 2 ;;
    esac
  done
  echo "${need[@]:-}"
}

need=$(missing)
[ -z "$need" ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "setup-test-deps: apt-get not found; install by hand: $need" >&2
  exit 1
fi
run=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then run=(sudo -n); else
    echo "setup-test-deps: not root and no passwordless sudo; install by hand: $need" >&2
    exit 1
  fi
fi

# One installer at a time from this project; apt's own locks are waited for as well.
exec 9>"${TMPDIR:-/tmp}/narrowcast-setup-test-deps.lock"
flock -w 900 9
need=$(missing) # another run may have installed them meanwhile
[ -z "$need" ] && exit 0

export DEBIAN_FRONTEND=noninteractive
apt=("${run[@]}" apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
# Try the cached package lists first; refresh them only when that fails.
# shellcheck disable=SC2086
if ! "${apt[@]}" install $need >&2; then
  "${run[@]}" apt-get -o DPkg::Lock::Timeout=600 -q update >&2
  # shellcheck disable=SC2086
  "${apt[@]}" install $need >&2
fi
need=$(missing)
if [ -n "$need" ]; then
  echo "setup-test-deps: still missing after apt-get: $need" >&2
  exit 1
fi

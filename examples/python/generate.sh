#!/usr/bin/env bash
# Generates the Python bindings of the Narrowcast protocol into OUT_DIR (e.g. a temp dir):
# messages (protoc --python_out, --pyi_out) and gRPC stubs (grpc_python_plugin), for proto/ and
# the google.rpc error details. The generated code is not committed; the test generates it anew.
# Needs Debian's protobuf-compiler, protobuf-compiler-grpc, python3-grpcio and python3-protobuf
# (scripts/setup-test-deps.sh python installs them). PROTOC and GRPC_PYTHON_PLUGIN override the
# tools found on PATH.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:?usage: examples/python/generate.sh OUT_DIR}"
mkdir -p "$out"
# google/rpc and the well-known types' .proto files come from the google-proto-files npm package.
protos="$root/node_modules/google-proto-files"
protoc="${PROTOC:-$(command -v protoc)}"
plugin="${GRPC_PYTHON_PLUGIN:-$(command -v grpc_python_plugin)}"
cd "$root"
"$protoc" -Iproto -I"$protos" \
  --python_out="$out" --pyi_out="$out" \
  --grpc_python_out="$out" --plugin=protoc-gen-grpc_python="$plugin" \
  $(find proto/narrowcast -name '*.proto' | sort) \
  "$protos/google/rpc/status.proto" "$protos/google/rpc/error_details.proto"

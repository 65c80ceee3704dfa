#!/usr/bin/env bash
# Locks the images' Python dependencies: exact versions with hashes, resolved from pyproject.toml's ranges for
# Python 3.11 on x86_64 Linux. Run after changing a dependency; commit the two files it writes.
set -euo pipefail
cd "$(dirname "$0")/.."
uv="${UV:-.venv/bin/uv}"
out=deploy/requirements
common=(--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet
        --custom-compile-command "deploy/lock.sh")
export UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"  # the system's CA bundle, for networks that intercept HTTPS

"$uv" pip compile pyproject.toml --extra serve-gpu -c "$out/cuda-13.0.txt" "${common[@]}" -o "$out/gpu.txt"
# The cpu image takes every version the gpu lock chose, onnxruntime included: one runtime across images.
pins="$(mktemp)"
trap 'rm -f "$pins"' EXIT
sed -n 's/^\([A-Za-z0-9._-]*==[^ ]*\).*/\1/p' "$out/gpu.txt" | sed 's/^onnxruntime-gpu==/onnxruntime==/' > "$pins"
"$uv" pip compile pyproject.toml --extra serve -c "$pins" "${common[@]}" -o "$out/cpu.txt"
sed -i "s|-c $pins|-c $out/gpu.txt|" "$out/cpu.txt"  # name where the pins came from, not the temporary file
echo "locked: $out/gpu.txt $out/cpu.txt (onnxruntime $(sed -n 's/^onnxruntime==\([^ ]*\).*/\1/p' "$out/cpu.txt"))"

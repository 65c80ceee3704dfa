#!/usr/bin/env bash
# Side by side with the peer kit (TorchServe, naive FastAPI + onnxruntime, ...) in ONE run of its harness.
#
#   bash benchmarks/peers.sh PEERS_DIR [run_all.sh options, e.g. --only torchserve,naive_fastapi_ort --fresh]
#
# Serves the kit's own model/lstm.onnx through our model repository (as model `lstm`, with its own
# manifest, outside the committed defaults) beside our digit model, starts seqserve twice on loopback
# (1 worker process, and --workers auto: one per core), and hands the URLs to the kit's run_all.sh as --extra
# targets. Results land in PEERS_DIR/results.csv; beside them probe.txt (the machine at the start),
# probe-timeline.csv (`probe.py --watch` samples throughout) and timeline.txt (each point with the
# machine it met, from benchmarks/timeline.py).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEERS="$(cd "${1:?usage: peers.sh PEERS_DIR [run_all.sh options]}" && pwd)"; shift
PY="${PYTHON:-$ROOT/.venv/bin/python}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

cp -r "$ROOT/models" "$WORK/models"
"$PY" - "$ROOT/benchmarks" "$WORK" "$PEERS" <<'PYEOF'
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from load import add_peer_model
work, peers = Path(sys.argv[2]), Path(sys.argv[3])
add_peer_model(work / "models", peers / "model" / "lstm.onnx")
pixels = json.loads((peers / "model" / "request.json").read_text())["pixels"]
(work / "body.json").write_text(json.dumps({"images": [pixels]}))
PYEOF

serve() {  # PORT WORKERS
  SEQSERVE_MODEL_DIR="$WORK/models" SEQSERVE_DEVICE=cpu SEQSERVE_LOG_LEVEL=warning SEQSERVE_GRPC_PORT=0 \
    "$PY" -m app --host 127.0.0.1 --port "$1" --workers "$2" > "$WORK/server-$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$1/health/ready" > /dev/null && return 0
    sleep 0.3
  done
  cat "$WORK/server-$1.log"; return 1
}
serve 18100 1
serve 18101 auto
"$PY" "$ROOT/benchmarks/probe.py" | tee "$PEERS/probe.txt"  # how costly this machine's wake-ups are, beside the numbers
"$PY" "$ROOT/benchmarks/probe.py" --watch 2 > "$PEERS/probe-timeline.csv" &  # and how fast it was, throughout
PIDS+=($!)

cd "$PEERS"
./run_all.sh "$@" \
  --extra seqserve-lstm "http://127.0.0.1:18100/predict/digit?model=lstm" "$WORK/body.json" \
  --extra seqserve-lstm-auto "http://127.0.0.1:18101/predict/digit?model=lstm" "$WORK/body.json" \
  --extra seqserve-digit "http://127.0.0.1:18100/predict/digit" "$WORK/body.json"
"$PY" "$ROOT/benchmarks/timeline.py" "${RESULTS:-$PEERS/results.csv}" "${RAW_DIR:-$PEERS/results_raw}" \
  "$PEERS/probe-timeline.csv" | tee "$PEERS/timeline.txt"

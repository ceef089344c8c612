#!/usr/bin/env bash
# GPU smoke test of the learner: build a ~100M-parameter Llama-style model locally (the tiny
# model's byte tokenizer, no download), then run a few steps of `gymnpt train` with the hf
# backend on CUDA in bf16 and print rollout and update tokens/s. Zero-variance groups are kept
# (learner.filter_zero_std=false) so that every step runs a full update to time.
#
# Then the served-sampler path: `gymnpt serve` of the same model in its own process, and a
# short `gymnpt train sampler.base_url=...` that samples from it and pushes its weights to it
# after each update (the server's version must go up once per push).
#
#   bash scripts/gpu_smoke.sh                 # on a machine with a CUDA GPU
#   DEVICE=cpu HIDDEN=64 LAYERS=2 bash scripts/gpu_smoke.sh   # a quick dry run of the script on CPU
#   SERVED=0 bash scripts/gpu_smoke.sh        # skip the served-sampler part
#   SERVED_ONLY=1 bash scripts/gpu_smoke.sh   # only the served-sampler part
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE="${DEVICE:-cuda}"
HIDDEN="${HIDDEN:-768}"
LAYERS="${LAYERS:-14}"
STEPS="${STEPS:-4}"
OUT="${OUT:-/tmp/gymnpt-gpu-smoke}"
SERVED="${SERVED:-1}"
SERVED_ONLY="${SERVED_ONLY:-0}"
PORT="${PORT:-8765}"
MODEL_DIR="$OUT/model-h${HIDDEN}-l${LAYERS}"
DTYPE=bfloat16
[ "$DEVICE" = "cpu" ] && DTYPE=float32

python - "$MODEL_DIR" "$HIDDEN" "$LAYERS" <<'PY'
import sys
from pathlib import Path

import torch

from gymnpt.models.tiny import build_tiny

out, hidden, layers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
if not (out / "config.json").exists():
    model, tok = build_tiny(seed=0, hidden_size=hidden, intermediate_size=hidden * 8 // 3,
                            num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
                            num_key_value_heads=max(1, hidden // 64))
    model.save_pretrained(out)
    tok.save_pretrained(out)
from transformers import AutoConfig
cfg = AutoConfig.from_pretrained(out)
h, L, i, v = cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size, cfg.vocab_size
params = L * (4 * h * h + 3 * h * i) + v * h
print(f"model: {out} (~{params / 1e6:.0f}M parameters)")
PY

if [ "$DEVICE" != "cpu" ]; then
  python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('device:', torch.cuda.get_device_name(0))"
fi

if [ "$SERVED_ONLY" != "1" ]; then
RUN="smoke-$(date +%s)"
start=$(date +%s)
python -m gymnpt.cli.main train env=snake model="$MODEL_DIR" device="$DEVICE" dtype="$DTYPE" \
  steps="$STEPS" seeds_per_step=16 group_size=8 sft.steps=20 sft.episodes=64 sft.batch_size=16 \
  eval.episodes=32 learner.micro_batch_size=32 learner.filter_zero_std=false concurrency=128 \
  save_every="$STEPS" \
  out="$OUT" name="$RUN" progress=false
end=$(date +%s)

python - "$OUT/$RUN" <<'PY'
import json
import sys
from pathlib import Path

root = Path(sys.argv[1])
rows = [json.loads(x) for x in (root / "metrics.jsonl").read_text().splitlines()]
rl = [r for r in rows if r.get("stage") == "rl"]
sft = [r for r in rows if r.get("stage") == "sft"]
print()
print(f"{'step':>4} {'rollout tok/s':>14} {'update tok/s':>13} {'t_rollout':>10} {'t_learn':>8} {'reward':>8}")
for r in rl:
    print(f"{r['step']:>4} {r['rollout/tokens_per_s']:>14.0f} {r.get('learn/tokens_per_s', float('nan')):>13.0f} "
          f"{r['time/rollout']:>10.2f} {r.get('time/learn', float('nan')):>8.2f} {r['reward/mean']:>8.3f}")
if sft:
    s = sft[0]
    print(f"sft: {s['sft/tokens'] / s['time/sft']:.0f} tokens/s over {s['time/sft']:.1f} s")
later = rl[1:] or rl
mean = lambda k: sum(r.get(k, 0.0) for r in later) / len(later)  # noqa: E731
print(f"mean after warm-up: rollout {mean('rollout/tokens_per_s'):.0f} sampled tokens/s, "
      f"update {mean('learn/tokens_per_s'):.0f} trained tokens/s")
PY
echo "wall: $((end - start)) s"
fi

# ---- served sampler: gymnpt serve in its own process, weights pushed after each update ------
if [ "$SERVED" = "1" ]; then
  echo
  echo "served sampler: gymnpt serve model=$MODEL_DIR on port $PORT"
  python -m gymnpt.cli.main serve model="$MODEL_DIR" device="$DEVICE" dtype="$DTYPE" \
    port="$PORT" log_level=warning > "$OUT/serve.log" 2>&1 &
  SERVER=$!
  trap 'kill "$SERVER" 2>/dev/null || true' EXIT
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$PORT/health" > /dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$OUT/serve.log"; exit 1; }
    sleep 1
  done
  SRUN="served-$(date +%s)"
  sstart=$(date +%s)
  python -m gymnpt.cli.main train env=snake model="$MODEL_DIR" device="$DEVICE" dtype="$DTYPE" \
    steps=2 seeds_per_step=8 group_size=4 sft.steps=5 sft.episodes=16 sft.batch_size=8 \
    eval.episodes=8 learner.filter_zero_std=false sampler.base_url="http://127.0.0.1:$PORT/v1" \
    out="$OUT" name="$SRUN" progress=false
  send=$(date +%s)
  version=$(curl -sf "http://127.0.0.1:$PORT/health" | python -c "import json,sys; print(json.load(sys.stdin)['version'])")
  echo "served sampler: server weight version $version after the run (expected 3: start + 2 updates)"
  python - "$OUT/$SRUN" <<'PY'
import json
import sys
from pathlib import Path

rows = [json.loads(x) for x in (Path(sys.argv[1]) / "metrics.jsonl").read_text().splitlines()]
for r in rows:
    if r.get("stage") == "rl":
        print(f"step {r['step']}: rollout {r['rollout/tokens_per_s']:.0f} sampled tokens/s, "
              f"reward {r['reward/mean']:.3f}")
PY
  echo "served wall: $((send - sstart)) s"
  [ "$version" = "3" ] || { echo "served sampler: unexpected version $version"; exit 1; }
fi

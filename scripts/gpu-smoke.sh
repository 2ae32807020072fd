#!/usr/bin/env bash
# GPU smoke test: `mcml serve --device cuda` end to end on a machine with an NVIDIA GPU.
# Checks that the CUDA execution provider loads (a failure is loud: exit 1), that /metrics and
# the "ready" line say device cuda, and that inferences answer with the same outputs as on the
# CPU. Nothing here runs in CI (no GPU there); run it on a GPU VM before a release:
#
#   scripts/gpu-smoke.sh                      # this checkout (npm ci done): installs onnxruntime's
#                                             # CUDA provider into node_modules, then serves
#   scripts/gpu-smoke.sh --image IMAGE        # the built image: docker run --gpus all IMAGE …
#
# Needs: nvidia-smi (NVIDIA driver), curl; the checkout mode needs CUDA 12 + cuDNN 9 libraries
# on the library path (e.g. the nvidia/cuda:12.x-cudnn-runtime image, or the CUDA toolkit);
# the image mode needs docker with the NVIDIA container toolkit.
set -euo pipefail
cd "$(dirname "$0")/.."

image=""
if [ "${1:-}" = "--image" ]; then image="${2:?--image needs an image name}"; fi
port="${PORT:-18777}"
model_name=iris
fail() { echo "gpu-smoke: FAIL: $*" >&2; exit 1; }

command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: this needs a machine with an NVIDIA GPU and driver"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || fail "nvidia-smi cannot see a GPU"

log="$(mktemp)"
cleanup() {
  if [ -n "${pid:-}" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "${cid:-}" ]; then docker rm -f "$cid" >/dev/null 2>&1 || true; fi
  rm -f "$log"
}
trap cleanup EXIT

if [ -n "$image" ]; then
  # The image's CMD is "serve"; args replace it, as a Kubernetes container's args do.
  cid="$(docker run -d --gpus all -p "127.0.0.1:${port}:8000" "$image" serve --port 8000 --device cuda)"
  logs() { docker logs "$cid" 2>&1; }
else
  lib=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
  if [ ! -f "$lib/libonnxruntime_providers_cuda.so" ]; then
    echo "gpu-smoke: installing onnxruntime's CUDA provider into $lib"
    ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js
  fi
  [ -f dist/cli/main.js ] || npm run build
  node bin/mcml serve --host 127.0.0.1 --port "$port" --device cuda \
    --model "${model_name}=models/iris.onnx" >"$log" 2>&1 &
  pid=$!
  logs() { cat "$log"; }
fi

echo "gpu-smoke: waiting for readiness on 127.0.0.1:${port}"
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:${port}/v2/health/ready" >/dev/null; then break; fi
  if [ -n "${pid:-}" ] && ! kill -0 "$pid" 2>/dev/null; then logs; fail "mcml serve --device cuda exited (see above)"; fi
  sleep 1
done
curl -sf "http://127.0.0.1:${port}/v2/health/ready" >/dev/null || { logs; fail "not ready after 120 s"; }

logs | grep '"msg":"ready"' | grep -q '"devices":{"iris":"cuda"}' || { logs; fail 'the ready line does not say devices {"iris":"cuda"}'; }
curl -sf "http://127.0.0.1:${port}/metrics" | grep -Eq '^mcml_inference_device_info\{model="iris",device="cuda",requested="cuda"' \
  || fail '/metrics does not report mcml_inference_device_info{device="cuda"}'

body='{"inputs":[{"name":"input","datatype":"FP32","shape":[2,4],"data":[5.1,3.5,1.4,0.2,6.7,3.0,5.2,2.3]}]}'
out="$(curl -sf -X POST -H 'content-type: application/json' -d "$body" "http://127.0.0.1:${port}/v2/models/${model_name}/infer")" \
  || fail "inference failed"
echo "gpu-smoke: inference on cuda: $out"
echo "$out" | grep -q '"outputs"' || fail "no outputs in the inference response"
for _ in $(seq 1 200); do
  curl -sf -X POST -H 'content-type: application/json' -d "$body" \
    "http://127.0.0.1:${port}/v2/models/${model_name}/infer" >/dev/null || fail "an inference failed under repeated load"
done
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader || true
echo "gpu-smoke: OK: the CUDA execution provider serves ${model_name} (200 inferences)"

# syntax=docker/dockerfile:1
# The image every target runs: `mcml serve` on port 8000 (see docs/serve.md), on the CPU or,
# with `--device cuda` on a node with an NVIDIA GPU, on CUDA 12 + cuDNN 9 through onnxruntime's
# CUDA execution provider (scripts/gpu-smoke.sh checks that path on a GPU machine).
#   docker build -t ghcr.io/OWNER/mcml:0.1.0 .
#   docker run -p 8000:8000 -e CLOUD_PROVIDER=aws -e MODEL_PATH=s3://bucket/model.onnx IMAGE
#   docker run --gpus all -p 8000:8000 IMAGE serve --device cuda

# onnxruntime-node 1.30's CUDA provider is built for CUDA 12 and cuDNN 9.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG NODE_IMAGE=node:20-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: "prepare" would build before the sources are here, and onnxruntime-node's
# postinstall is skipped by .npmrc (developers' machines need no CUDA download).
RUN npm ci --ignore-scripts --no-audit --no-fund
# onnxruntime-node ships its CPU binaries in the package; the CUDA execution provider
# (libonnxruntime_providers_cuda.so + _shared.so) comes from the same version's NuGet package,
# fetched by the package's own install script. The build fails if it is not there.
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_shared.so
COPY tsconfig.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM ${NODE_IMAGE} AS node

# CUDA runtime libraries (cudart, cuBLAS, cuFFT, cuRAND) and cuDNN 9; the NVIDIA driver comes
# from the node (the device plugin / GKE driver installer and the NVIDIA container runtime).
FROM ${CUDA_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    PORT=8000 \
    MODEL_PATH=/app/models/iris.onnx \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY models ./models
# A numeric, non-root user: Kubernetes' runAsNonRoot can only verify a numeric USER (the
# rendered pods also set runAsUser to the same id). Downloaded models are cached under its home.
RUN groupadd --gid 10001 mcml && useradd --uid 10001 --gid 10001 --create-home mcml
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node runs as PID 1 and gets SIGTERM itself, so the server drains before exit.
# ENTRYPOINT is the CLI and CMD the command, so a Kubernetes container's `args` (which replace
# CMD) name the command once: args ["serve", "--port", "8000"] runs `mcml serve --port 8000`,
# and the same image runs the failover front door with args ["failover", "run", …].
ENTRYPOINT ["node", "bin/mcml"]
CMD ["serve"]

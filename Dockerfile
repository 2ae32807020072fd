# syntax=docker/dockerfile:1
# The image every target runs: `mcml serve` on port 8000 (see docs/serve.md).
#   docker build -t ghcr.io/OWNER/mcml-serve:0.1.0 .
#   docker run -p 8000:8000 -e CLOUD_PROVIDER=aws -e MODEL_PATH=s3://bucket/model.onnx IMAGE

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: "prepare" would build before the sources are here; onnxruntime-node ships
# its CPU binaries in the package (its CUDA download is skipped by .npmrc).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-slim
ENV NODE_ENV=production \
    PORT=8000 \
    MODEL_PATH=/app/models/iris.onnx
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY models ./models
# Downloaded models are cached under the non-root user's home.
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node runs as PID 1 and gets SIGTERM itself, so the server drains before exit.
# ENTRYPOINT is the CLI and CMD the command, so a Kubernetes container's `args` (which replace
# CMD) name the command once: args ["serve", "--port", "8000"] runs `mcml serve --port 8000`,
# and the same image runs the failover front door with args ["failover", "run", …].
ENTRYPOINT ["node", "bin/mcml"]
CMD ["serve"]

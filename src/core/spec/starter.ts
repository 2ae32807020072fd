/** The commented starter spec written by `mcml init`. It must parse (a test checks). */
export const STARTER_SPEC = `# mcml.yaml — one ML inference service on several clouds.
# Reference: https://github.com/mcml-dev/mcml#spec-reference
# Editors: point the YAML language server at schema/mcml.schema.json for completion.
# yaml-language-server: $schema=https://raw.githubusercontent.com/mcml-dev/mcml/main/schema/mcml.schema.json
version: 1

service:
  name: ml-inference            # Kubernetes names, DNS labels and bucket prefixes
  image: ghcr.io/mcml-dev/mcml:0.1.0
  port: 8000
  model:
    uri: models/iris.onnx       # a path, s3://, gs:// or az://account/container/key
    name: iris                  # the name in the inference API (/v2/models/iris)
  resources:
    cpu: 4                      # vCPUs per replica
    memory: 16Gi
    gpu:                        # omit for a CPU-only service
      model: T4                 # T4, L4, A10G, A100, H100, ... (mcml catalog gpus)
      count: 1
  replicas:
    min: 2
    max: 10
    targetCpuUtilization: 70    # the HPA target
  healthPath: /v2/health/ready

# Where it runs. Tier 1 takes traffic; lower tiers take over in order when it fails.
targets:
  - name: aws-use1
    provider: aws
    region: us-east-1
    tier: 1
    bucket: s3://my-ml-models-use1
    spot: true                  # spot capacity for replicas above the on-demand floor
    onDemandFloor: 1
  - name: gcp-usc1
    provider: gcp
    region: us-central1
    tier: 2
    bucket: gs://my-ml-models-usc1
  - name: azure-eus
    provider: azure
    region: eastus
    tier: 3
    bucket: az://mymlmodels/models

# high-availability | cost | best-of-breed | residency
strategy:
  type: high-availability
  minClouds: 3

# Data sets replicated to targets; never outside their jurisdiction.
data:
  - name: train
    source: ./datasets
    jurisdiction: us
    sizeGb: 50

failover:
  mode: front-door              # front-door | dns | both
  check:
    interval: 2s
    timeout: 1s
    failureThreshold: 3
    successThreshold: 2
  failback: auto                # auto | manual
  stablePeriod: 30s

monitoring:
  scrapeInterval: 15s
  alerts:
    errorRatio: 0.05
    p99LatencyMs: 500

budget:
  monthly: 20000                # USD
`;

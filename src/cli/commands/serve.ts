import type { Command } from 'commander';

/** Collects a repeatable option's values. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve ONNX models over KServe v2 / Triton REST, KServe v1, /health and /metrics')
    .option(
      '-m, --model <name=uri>',
      'a model to serve: NAME=URI or a path (repeatable); URI may end with #sha256=HEX; default: $MODEL_PATH',
      collect,
    )
    .option('-p, --port <port>', 'TCP port (0 picks a free one)', process.env.PORT ?? '8000')
    .option('--host <address>', 'interface to listen on', '0.0.0.0')
    .option(
      '--max-batch <rows>',
      'most rows per onnxruntime call; 1 disables dynamic batching',
      '32',
    )
    .option('--batch-delay-ms <ms>', 'longest a request waits for its batch to fill', '2')
    .option('--max-queue <requests>', 'requests waiting per model before 503 + Retry-After', '256')
    .option('--max-body <size>', 'largest request body (e.g. 16mb, 512kb, 1048576)', '16mb')
    .option(
      '--drain-timeout <duration>',
      'on SIGTERM, how long in-flight requests may finish',
      '10s',
    )
    .option(
      '--threads <n>',
      'onnxruntime intra-op threads per model: auto (cores - 1, one left for HTTP), 0 (onnxruntime decides) or N',
      'auto',
    )
    .option(
      '--device <device>',
      'cpu; cuda (fails when the CUDA execution provider cannot load); auto (cuda, else cpu)',
      'cpu',
    )
    .option(
      '--auth-token-env <name>',
      'require Authorization: Bearer <token> on model routes, the token read from this environment variable',
    )
    .option(
      '--cache-dir <dir>',
      'where downloaded models are cached (default ~/.cache/mcml/models)',
    )
    .option(
      '--download-streams <n>',
      'ranged GETs in flight per large model object downloaded (4 suits the real clouds)',
      '1',
    )
    .option(
      '--log-level <level>',
      'pino log level: debug logs every request',
      process.env.LOG_LEVEL ?? 'info',
    )
    .action(async (options: Record<string, string | string[] | undefined>) => {
      const { runServe } = await import('./serve-run.js');
      await runServe(options);
    });
}

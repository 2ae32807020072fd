/**
 * Builds `dist/` from the current source before any test runs. End-to-end tests spawn
 * `bin/mcml`, which runs the compiled CLI: without this, a source change could pass against a
 * stale build (issue: "tests must run what the source says").
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(repo, 'tsconfig.build.json')], {
    cwd: repo,
    stdio: 'inherit',
  });
}

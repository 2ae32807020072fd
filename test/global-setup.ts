/**
 * Builds `dist/` from the current source before any test runs. End-to-end tests spawn
 * `bin/mcml`, which runs the built CLI: without this, a source change could pass against a
 * stale build (issue: "tests must run what the source says"). The build (scripts/build.ts, what
 * `npm run build` runs) is skipped when no file under src/, nor the build script or
 * package.json, is newer than the last build.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDist } from '../scripts/build.js';

export default async function setup(): Promise<void> {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
  // Written last by the build: its time is the build's.
  const stamp = mtime(join(repo, 'dist', 'bundled-packages.json'));
  const inputs = [
    'package.json',
    'tsconfig.json',
    join('scripts', 'build.ts'),
    join('scripts', 'build-vendor.ts'),
  ];
  const newestInput = newest(
    join(repo, 'src'),
    inputs.map((f) => mtime(join(repo, f))),
  );
  if (stamp !== undefined && newestInput <= stamp) return;
  await buildDist(repo);
}

function mtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The newest modification time of any file under dir (and of the extra times given). */
function newest(dir: string, extra: (number | undefined)[]): number {
  let latest = Math.max(0, ...extra.filter((t): t is number => t !== undefined));
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    latest = Math.max(latest, mtime(join(entry.parentPath, entry.name)) ?? 0);
  }
  return latest;
}

/**
 * Builds `dist/` from the current source before any test runs. End-to-end tests spawn
 * `bin/mcml`, which runs the compiled CLI: without this, a source change could pass against a
 * stale build (issue: "tests must run what the source says"). The build is skipped when no
 * file under src/ (or the build config) is newer than the last build.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
  const stamp = mtime(join(repo, 'dist', '.tsbuildinfo'));
  const sources = [join(repo, 'tsconfig.json'), join(repo, 'tsconfig.build.json')];
  if (stamp !== undefined && newest(join(repo, 'src'), sources.map(mtime)) <= stamp) return;
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(repo, 'tsconfig.build.json')], {
    cwd: repo,
    stdio: 'inherit',
  });
  // tsc leaves the build info untouched when nothing changed: mark this build as current.
  const now = new Date();
  utimesSync(join(repo, 'dist', '.tsbuildinfo'), now, now);
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

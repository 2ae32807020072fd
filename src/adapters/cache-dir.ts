/** Where mcml keeps what it caches between runs (upload journals, file hashes, compiled code). */
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The directory `name` of mcml's cache: the environment variable `override` when set, else
 * $XDG_CACHE_HOME/mcml/NAME (~/.cache/mcml/NAME).
 */
export function mcmlCacheDir(
  env: Record<string, string | undefined>,
  override: string,
  name: string,
): string {
  const given = env[override];
  if (given) return given;
  const cache = env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache');
  return join(cache, 'mcml', name);
}

/**
 * A token that comes from the environment is never printed (issue 14 #5): `mcml up` used to
 * print whatever variable `failover.frontDoor.adminTokenEnv` named — AWS_SECRET_ACCESS_KEY
 * included — as the admin token and inside the dashboard URL.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, localExample } from '../up/helpers.js';

const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';

/** Runs `mcml ARGS` until `until` matches its output (then SIGTERM) or it exits by itself. */
function run(args: string[], env: Record<string, string>, until?: RegExp) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const on = (d: Buffer) => {
      out += d.toString();
      if (until?.test(out) && child.exitCode === null) child.kill('SIGTERM');
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('tokens from the environment are never printed', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('mcml up says where the admin token comes from, not what it is', async () => {
    const spec = await localExample((s: { service: { replicas: { min: number } } }) => {
      s.service.replicas.min = 1;
    });
    dirs.push(dirname(spec));
    const r = await run(
      ['up', '-f', spec, '--port', '0'],
      { MCML_ADMIN_TOKEN: SECRET },
      /is up on/,
    );
    expect(r.out).toMatch(/Admin token\s+from MCML_ADMIN_TOKEN \(not printed/);
    expect(r.out).toMatch(/Dashboard\s+http:\/\/\S+\/\s/);
    expect(r.out).not.toContain(SECRET);
    expect(r.out).not.toContain('#token=');
  }, 180_000);

  it('a spec that names a cloud credential as the admin token is refused, and the secret is not echoed', async () => {
    const spec = await localExample((s: { failover: { frontDoor: Record<string, unknown> } }) => {
      s.failover.frontDoor.adminTokenEnv = 'AWS_SECRET_ACCESS_KEY';
    });
    dirs.push(dirname(spec));
    for (const command of [
      ['up', '-f', spec, '--port', '0'],
      ['validate', spec],
    ]) {
      const r = await run(command, { AWS_SECRET_ACCESS_KEY: SECRET });
      expect(r.code).toBe(2);
      expect(r.out).toMatch(/adminTokenEnv/);
      expect(r.out).toMatch(/AWS_SECRET_ACCESS_KEY holds a credential/);
      expect(r.out).not.toContain(SECRET);
    }
  }, 60_000);
});

/**
 * BIND 9 (`named`) for RFC 2136 tests: a primary zone that a TSIG key may update, in a temp
 * dir, on a random loopback port (UDP and TCP). Call stop() in afterAll.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startServer, type RunningServer } from './process.js';

export interface Bind extends RunningServer {
  /** "127.0.0.1:PORT" */
  server: string;
  zone: string;
  keyName: string;
  algorithm: 'hmac-sha256';
  /** Base64 TSIG secret. */
  secret: string;
  /** Answers for NAME TYPE from this server, as `dig +short` prints them (sorted). */
  dig(name: string, type: string): Promise<string[]>;
}

const NAMED = ['/usr/sbin/named', '/usr/bin/named'].find((p) => existsSync(p)) ?? 'named';
const INSTALL = 'apt-get install -y bind9 bind9-dnsutils';

/** Starts named with zone `zone` (default example.test) updatable with a fresh TSIG key. */
export async function startBind(zone = 'example.test'): Promise<Bind> {
  const dir = await mkdtemp(join(tmpdir(), 'mcml-bind-'));
  const port = await freePort();
  const keyName = 'mcml-key';
  const secret = randomBytes(32).toString('base64');
  await writeFile(
    join(dir, `${zone}.zone`),
    `$TTL 60
@ IN SOA ns1.${zone}. hostmaster.${zone}. 1 60 60 600 5
@ IN NS ns1.${zone}.
ns1 IN A 127.0.0.1
`,
  );
  await writeFile(
    join(dir, 'named.conf'),
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { any; };
  dnssec-validation no;
  notify no;
};
controls { };
key "${keyName}" { algorithm hmac-sha256; secret "${secret}"; };
zone "${zone}" {
  type primary;
  file "${dir}/${zone}.zone";
  journal "${dir}/${zone}.zone.jnl";
  allow-update { key "${keyName}"; };
};
`,
  );
  let server: RunningServer;
  try {
    server = await startServer(NAMED, ['-g', '-c', join(dir, 'named.conf')], port, {
      installHint: INSTALL,
      timeoutMs: 30_000,
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const exec = promisify(execFile);
  // named accepts connections before it has loaded its zones, and answers SERVFAIL until then:
  // wait until the zone's SOA is served.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const soa = await exec('dig', [
      '@127.0.0.1',
      '-p',
      String(port),
      '+short',
      '+norecurse',
      '+time=1',
      '+tries=1',
      zone,
      'SOA',
    ])
      .then((r) => r.stdout.trim())
      .catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') throw new Error(`dig is not installed: ${INSTALL}`);
        return '';
      });
    if (soa !== '') break;
    if (Date.now() > deadline) {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
      throw new Error(`named did not serve zone ${zone} in time\n${server.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    ...server,
    server: `127.0.0.1:${port}`,
    zone,
    keyName,
    algorithm: 'hmac-sha256',
    secret,
    dig: async (name, type) => {
      const { stdout } = await exec('dig', [
        '@127.0.0.1',
        '-p',
        String(port),
        '+short',
        '+norecurse',
        '+time=2',
        '+tries=2',
        name,
        type,
      ]).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') throw new Error(`dig is not installed: ${INSTALL}`);
        throw e;
      });
      return stdout
        .split('\n')
        .map((l) => l.trim().replace(/\.$/, ''))
        .filter(Boolean)
        .sort();
    },
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

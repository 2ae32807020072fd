/**
 * `npm run bench:failover`:
 *  (a) ~200 req/s through the front door (mcml failover run, its own process), SIGKILL the
 *      primary: failed requests and time until new requests go straight to the secondary;
 *      then the same with SIGSTOP (a hung primary: accepts, never answers), worst-case latency;
 *  (b) DNS mode on a real BIND, 1 s checks × 3: time from the kill to the new DNS answer;
 *  (c) front-door overhead: wrk against the upstream directly, through mcml's front door and
 *      through haproxy (Debian) in front of the same upstream: p50 latency and req/s.
 * Prints tables; figures go to BENCHMARKS.md under "## failover".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { Rfc2136Provider } from '../src/adapters/rfc2136/index.js';
import { createDnsProvider } from '../src/adapters/dns.js';
import { startFailover } from '../src/engines/failover/index.js';
import { startBind } from '../test/helpers/bind.js';
import { freePort, waitForPort } from '../test/helpers/process.js';
import { failoverSpec } from '../test/failover/spec.js';
import { startUpstream, type Upstream } from '../test/failover/upstreams.js';
import { runWrk, type WrkResult } from './wrk.js';

const root = join(import.meta.dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const table = (rows: string[][]) => {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ')).join('\n');
};

async function startFrontDoorProcess(spec: string, dir: string) {
  const file = join(dir, 'mcml.yaml');
  await writeFile(file, spec);
  const events = join(dir, 'events.jsonl');
  const child = spawn(
    process.execPath,
    [join(root, 'bin/mcml'), 'failover', 'run', '-f', file, '--events', events, '--json'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NO_COLOR: '1' },
    },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /front door\s+(http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`mcml failover run exited ${code}: ${out}`)));
  });
  return { url, events, child, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const service = `service:
  name: iris
  model: { uri: models/iris.onnx }
  resources: { cpu: 1, memory: 1Gi }
`;

/** (a) constant load, SIGKILL (crash) or SIGSTOP (hang) the primary. */
async function faultUnderLoad(dir: string, fault: 'kill' | 'hang') {
  const ups = await Promise.all([
    startUpstream('primary'),
    startUpstream('secondary'),
    startUpstream('tertiary'),
  ]);
  const spec = `${service}targets:
${ups.map((u) => `  - { name: ${u.name}, provider: local, region: local, endpoint: "${u.url}" }`).join('\n')}
failover:
  check: { interval: 1s, timeout: 500ms, failureThreshold: 3 }
  frontDoor: { port: 0 }
`;
  const fd = await startFrontDoorProcess(spec, dir);
  const pool = new Pool(fd.url, { connections: 64 });
  const rate = 200;
  const results: { start: number; end: number; ok: boolean; target: string }[] = [];
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  const origin = Date.now() - t0;
  let killAt = NaN;
  const durationMs = 8000;
  for (let i = 0; ; i++) {
    const due = t0 + (i * 1000) / rate;
    const now = performance.now();
    if (due - t0 > durationMs) break;
    if (due > now) await sleep(due - now);
    if (Number.isNaN(killAt) && performance.now() - t0 >= 3000) {
      killAt = performance.now();
      if (fault === 'kill') ups[0].child.kill('SIGKILL');
      else ups[0].hang();
    }
    const start = performance.now();
    const p = pool
      .request({
        path: '/v2/models/iris/infer',
        method: 'POST',
        body: '{"inputs":[]}',
        headers: { 'content-type': 'application/json' },
      })
      .then(async (res) => {
        await res.body.dump();
        results.push({
          start,
          end: performance.now(),
          ok: res.statusCode === 200,
          target: String(res.headers['x-mcml-target']),
        });
      })
      .catch(() => {
        results.push({ start, end: performance.now(), ok: false, target: 'error' });
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  ups[0].wake();
  const metrics = await (await fetch(`${fd.url}/_mcml/metrics`)).text();
  await fd.stop();
  await pool.close();
  await Promise.all(ups.map((u) => u.stop()));
  const log = (await readFile(fd.events, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; time: string; to?: string; reason?: string });
  const switched = log.find((e) => e.type === 'active' && e.to === 'secondary');
  const killWall = origin + killAt;
  const switchMs = switched ? Date.parse(switched.time) - killWall : NaN;
  const retries = [...metrics.matchAll(/mcml_proxy_retries_total\{[^}]*\} (\d+)/g)].reduce(
    (s, m) => s + Number(m[1]),
    0,
  );
  const after = results.filter((r) => r.start >= killAt);
  const lastPrimary = Math.max(
    ...results.filter((r) => r.target === 'primary').map((r) => r.end - killAt),
  );
  const before = results.filter((r) => r.start < killAt - 500).map((r) => r.end - r.start);
  const around = results
    .filter((r) => r.start >= killAt - 50 && r.start < killAt + 1000)
    .map((r) => r.end - r.start);
  return {
    requests: results.length,
    failed: results.filter((r) => !r.ok).length,
    switchMs,
    switchReason: switched?.reason,
    retries,
    lastPrimaryMs: lastPrimary,
    afterOnSecondary:
      after.filter((r) => r.target === 'secondary').length / Math.max(1, after.length),
    p50Before: pct(before, 50),
    p99Before: pct(before, 99),
    p99Around: pct(around, 99),
    maxAround: Math.max(...around),
    maxAll: Math.max(...results.map((r) => r.end - r.start)),
  };
}

/** (b) DNS mode on BIND: kill → new answer. */
async function dnsOnBind() {
  const bind = await startBind();
  const ups: Upstream[] = await Promise.all([
    startUpstream('primary', { host: '127.0.0.1' }),
    startUpstream('secondary', { host: '127.0.0.2' }),
  ]);
  const spec = failoverSpec(
    ups.map((u) => ({ name: u.name, url: u.url })),
    `mode: dns
check: { interval: 1s, timeout: 500ms, failureThreshold: 3 }
dns: { provider: rfc2136, zone: ${bind.zone}, record: ml.${bind.zone}, ttl: 1, server: "${bind.server}", tsigKeyName: ${bind.keyName} }`,
  );
  const dns = await createDnsProvider(spec.failover.dns!, {
    env: { MCML_TSIG_SECRET: bind.secret },
  });
  const fo = await startFailover({ spec, dns, dnsFailFast: true });
  await fo.dnsSettled();
  const reader = new Rfc2136Provider({ server: bind.server, zone: bind.zone });
  const runs: number[] = [];
  try {
    for (let run = 0; run < 3; run++) {
      await sleep(700 + run * 300); // land the kill at different points of the check cycle
      const killed = performance.now();
      await ups[0]!.kill();
      for (;;) {
        const r = await reader.get(`ml.${bind.zone}`, 'A');
        if (r?.values[0] === '127.0.0.2') break;
        await sleep(20);
      }
      runs.push(performance.now() - killed);
      // Back to the primary for the next run: restart it and fail back by hand.
      await ups[0]!.restart();
      for (let i = 0; i < 100 && fo.status().targets[0]!.state !== 'healthy'; i++) await sleep(100);
      fo.failback();
      await fo.dnsSettled();
      for (;;) {
        const r = await reader.get(`ml.${bind.zone}`, 'A');
        if (r?.values[0] === '127.0.0.1') break;
        await sleep(20);
      }
    }
  } finally {
    await fo.close();
    await Promise.all([bind.stop(), ...ups.map((u) => u.stop())]);
  }
  return runs;
}

async function wrk(url: string, seconds = 6, connections = 32): Promise<WrkResult> {
  await runWrk({ url, connections, seconds: 1 }); // warm-up
  return runWrk({ url, connections, seconds });
}

async function startHaproxy(dir: string, upstream: string, threads: number | undefined) {
  const port = await freePort();
  const u = new URL(upstream);
  const cfg = join(dir, `haproxy-${threads ?? 'auto'}.cfg`);
  await writeFile(
    cfg,
    `global
  maxconn 4096
${threads ? `  nbthread ${threads}\n` : ''}defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  http-reuse always
  server s1 ${u.hostname}:${u.port}
`,
  );
  const child = spawn('haproxy', ['-f', cfg, '-db'], { stdio: 'ignore' });
  await waitForPort(port, { child });
  return { url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

/** (c) overhead of the front door vs direct and vs haproxy. */
async function overhead(dir: string) {
  const up = await startUpstream('upstream');
  const spec = `${service}targets:
  - { name: upstream, provider: local, region: local, endpoint: "${up.url}" }
failover:
  check: { interval: 2s }
  frontDoor: { port: 0 }
`;
  const fd = await startFrontDoorProcess(spec, dir);
  const h1 = await startHaproxy(dir, up.url, 1);
  const hAuto = await startHaproxy(dir, up.url, undefined);
  try {
    const path = '/v2/models/iris/ready';
    const direct = await wrk(up.url + path);
    const mcml = await wrk(fd.url + path);
    const haproxy1 = await wrk(h1.url + path);
    const haproxyAuto = await wrk(hAuto.url + path);
    // One connection: the latency a request pays for the extra hop, without queueing.
    const one = {
      direct: await wrk(up.url + path, 6, 1),
      mcml: await wrk(fd.url + path, 6, 1),
      haproxy1: await wrk(h1.url + path, 6, 1),
    };
    return { direct, mcml, haproxy1, haproxyAuto, one };
  } finally {
    await Promise.all([fd.stop(), h1.stop(), hAuto.stop()]);
    await up.stop();
  }
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'mcml-bench-failover-'));
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  try {
    console.log(
      `mcml failover benchmark — ${new Date().toISOString()} — ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}\n`,
    );
    // `npm run bench:failover -- c` runs only part (c); default: all.
    const parts = process.argv.slice(2).join('') || 'abc';
    if (parts.includes('a')) {
      const crash = await faultUnderLoad(dir, 'kill');
      const hang = await faultUnderLoad(dir, 'hang');
      console.log(
        '(a) 200 req/s POST through the front door (checks 1 s, timeout 500 ms, ×3), fault on the primary',
      );
      const row = (name: string, a: typeof crash) => [
        name,
        String(a.requests),
        String(a.failed),
        String(a.retries),
        `${f(a.switchMs)} (${a.switchReason ?? '?'})`,
        `${f(a.afterOnSecondary * 100)} %`,
        f(a.p50Before, 2),
        f(a.p99Before, 2),
        f(a.p99Around, 2),
        f(a.maxAround, 2),
        f(a.maxAll, 2),
      ];
      console.log(
        table([
          [
            'fault',
            'requests',
            'failed',
            'retried',
            'fault → traffic moved (ms)',
            'on secondary after',
            'p50 before (ms)',
            'p99 before',
            'p99 fault+1s',
            'max fault+1s',
            'max overall',
          ],
          row('SIGKILL (crash)', crash),
          row('SIGSTOP (hang)', hang),
        ]),
      );
      console.log(
        `    targets: 0 failed (crash ${crash.failed}, hang ${hang.failed}), crash moves traffic < 1000 ms (${f(crash.switchMs)} ms), hang worst latency < 2000 ms (${f(hang.maxAll, 0)} ms; 30 000 ms before hedging)\n`,
      );
    }
    if (parts.includes('b')) {
      const b = await dnsOnBind();
      console.log(
        '(b) DNS mode on BIND (RFC 2136 + TSIG), checks every 1 s, failureThreshold 3, TTL 1 s',
      );
      console.log(
        table([
          ['run', 'kill → new DNS answer (ms)'],
          ...b.map((ms, i) => [String(i + 1), f(ms, 0)]),
        ]),
      );
      console.log(
        `    median ${f(pct(b, 50), 0)} ms; target ≤ 4000 ms. Route 53 failover: 30–90 s detection + TTL; k8gb ~48 s (prices.md)\n`,
      );
    }
    if (!parts.includes('c')) return;
    const c = await overhead(dir);
    const row = (name: string, r: WrkResult) => [
      name,
      f(r.rps, 0),
      f(r.p50, 3),
      f(r.p99, 3),
      String(r.errors),
    ];
    console.log(
      '(c) overhead: wrk -t1 -c32, 6 s, GET of a small JSON answer from one loopback upstream',
    );
    console.log(
      table([
        ['path', 'req/s', 'p50 (ms)', 'p99 (ms)', 'errors'],
        row('direct', c.direct),
        row('mcml front door', c.mcml),
        row('haproxy 2.6 nbthread 1', c.haproxy1),
        row('haproxy 2.6 default threads', c.haproxyAuto),
      ]),
    );
    console.log(
      `    added p50 vs direct at 32 connections (saturated, mostly queueing): mcml ${f(c.mcml.p50 - c.direct.p50, 3)} ms, haproxy(1) ${f(c.haproxy1.p50 - c.direct.p50, 3)} ms`,
    );
    console.log('    one connection (no queueing): wrk -t1 -c1, 6 s');
    console.log(
      table([
        ['path', 'req/s', 'p50 (ms)', 'p99 (ms)', 'errors'],
        row('direct', c.one.direct),
        row('mcml front door', c.one.mcml),
        row('haproxy 2.6 nbthread 1', c.one.haproxy1),
      ]).replace(/^/gm, '    '),
    );
    console.log(
      `    added p50 vs direct, one connection: mcml ${f(c.one.mcml.p50 - c.one.direct.p50, 3)} ms, haproxy(1) ${f(c.one.haproxy1.p50 - c.one.direct.p50, 3)} ms (target < 0.5 ms)`,
    );
    console.log(
      `    req/s ratio mcml / haproxy: ${f(c.mcml.rps / c.haproxy1.rps, 2)} vs nbthread 1, ${f(c.mcml.rps / c.haproxyAuto.rps, 2)} vs default threads (target ≥ 0.5)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

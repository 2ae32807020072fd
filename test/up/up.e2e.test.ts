/**
 * `mcml up` end to end: real `mcml serve` replicas, the failover front door and the
 * dashboard, on a temp copy of examples/local. Kill a target from outside under load, watch
 * the failover lose no request, the cluster driver restart it and traffic fail back; drive
 * the dashboard in Chromium; stop with nothing left running.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ROOT,
  alive,
  getState,
  load,
  localExample,
  runMcml,
  startUp,
  waitForState,
  type UpProcess,
} from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let up: UpProcess;
let spec: string;
/** Every replica pid seen, to check none is left at the end. */
const seenPids = new Set<number>();
const remember = (s: Awaited<ReturnType<typeof getState>>) => {
  for (const t of s.targets) for (const pid of t.replicas.pids) seenPids.add(pid);
};

beforeAll(async () => {
  spec = await localExample((s) => {
    // Fail back soon after the primary is healthy again, to keep the test short.
    s.failover.stablePeriod = '2s';
  });
  up = await startUp(spec);
  remember(await getState(up.url));
}, 180_000);

afterAll(async () => {
  await up?.stop();
});

describe('mcml up', () => {
  it('serves three healthy targets from their own buckets, with the plan and metrics', async () => {
    const state = await waitForState(up.url, (s) => s.targets.every((t) => t.health === 'healthy'));
    expect(state.targets.map((t) => [t.name, t.cloud, t.tier])).toEqual([
      ['local-aws', 'aws', 1],
      ['local-gcp', 'gcp', 2],
      ['local-azure', 'azure', 3],
    ]);
    expect(state.active).toBe('local-aws');
    for (const t of state.targets) {
      expect(t.replicas.ready).toBeGreaterThanOrEqual(1);
      expect(t.hourly).toBeGreaterThan(0);
    }
    // The model and the data set were copied into every target's directory bucket.
    const dir = dirname(spec);
    for (const t of ['local-aws', 'local-gcp', 'local-azure']) {
      expect(existsSync(join(dir, '.mcml/buckets', t, 'models/iris/iris.onnx'))).toBe(true);
      expect(existsSync(join(dir, '.mcml/buckets', t, 'data/iris-data/iris.csv'))).toBe(true);
    }
    expect(state.sync.every((s) => s.state === 'done')).toBe(true);

    // The replicas came up through the rollout engine: one wave per tier, the standby first,
    // each target gated by a real inference before the next wave.
    expect(state.rollout).toMatchObject({
      state: 'done',
      waves: [['local-azure'], ['local-gcp'], ['local-aws']],
      wave: 3,
    });
    for (const t of state.rollout!.targets) {
      expect(t.phase).toBe('done');
      expect(t.revision).toBe(1);
      expect(t.gates).toContainEqual(
        expect.objectContaining({
          gate: 'health',
          ok: true,
          message: expect.stringMatching(/model iris answered an inference/),
        }),
      );
    }

    // One /metrics: every replica's series relabelled with its cloud and target.
    const metrics = await (await fetch(`${up.url}/metrics`)).text();
    for (const [cloud, target] of [
      ['aws', 'local-aws'],
      ['gcp', 'local-gcp'],
      ['azure', 'local-azure'],
    ]) {
      expect(metrics).toMatch(
        new RegExp(`mcml_server_ready\\{[^}]*cloud="${cloud}"[^}]*target="${target}"`),
      );
    }
    expect(metrics).toMatch(/mcml_active_target\{target="local-aws",cloud="[a-z]+"\} 1/);
    expect(metrics.match(/^# TYPE mcml_http_requests_total /gm)).toHaveLength(1);
    const promFile = join(dir, '.mcml/prometheus.yml');
    const prom = await readFile(promFile, 'utf8');
    expect(prom).toContain(`- targets: ['${new URL(up.url).host}']`);
    // Prometheus' own checker accepts the config and the scraped page.
    const check = spawnSync('promtool', ['check', 'config', promFile], { encoding: 'utf8' });
    if (check.error) throw new Error('promtool is missing: apt-get install -y prometheus');
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
    // Exit 1 is a parse error, 3 lint findings: the only accepted findings are prom-client's
    // default nodejs_active_*_total gauges (named by prom-client, not by mcml).
    const findings = `${lint.stdout}${lint.stderr}`
      .split('\n')
      .filter((l) => l.trim() !== '')
      .filter(
        (l) => !/^mcml_nodejs_active_(handles|requests|resources)_total non-counter /.test(l),
      );
    expect([0, 3], findings.join('\n')).toContain(lint.status);
    expect(findings).toEqual([]);
  });

  it('fails over with no failed request when a target is killed, then fails back', async () => {
    const before = await getState(up.url);
    remember(before);
    const primary = before.targets.find((t) => t.name === 'local-aws')!;
    const traffic = load(up.url);
    await waitForState(up.url, (s) => s.targets[0]!.rps > 0);
    // Kill the primary's serve processes from outside, as a crash would.
    for (const pid of primary.replicas.pids) process.kill(-pid, 'SIGKILL');
    const failedOver = await waitForState(up.url, (s) => s.active === 'local-gcp');
    expect(failedOver.events.map((e) => e.message)).toContainEqual(
      expect.stringMatching(/failover: local-aws → local-gcp/),
    );
    // The cluster driver restarts the replica; after the stable period traffic fails back.
    const back = await waitForState(up.url, (s) => s.active === 'local-aws', 90_000);
    remember(back);
    const restarted = back.targets.find((t) => t.name === 'local-aws')!;
    expect(restarted.replicas.restarts).toBeGreaterThanOrEqual(1);
    for (const pid of primary.replicas.pids) expect(restarted.replicas.pids).not.toContain(pid);
    expect(back.events.map((e) => e.message)).toContainEqual(
      expect.stringMatching(/failback: local-gcp → local-aws/),
    );
    // A few more requests after failback, then count.
    const okBefore = traffic.stats.byTarget['local-aws'] ?? 0;
    await waitForState(up.url, () => (traffic.stats.byTarget['local-aws'] ?? 0) > okBefore + 5);
    const stats = await traffic.stop();
    expect(stats.errors).toEqual([]);
    expect(stats.failed).toBe(0);
    expect(stats.byTarget['local-gcp']).toBeGreaterThan(0);
    expect(stats.ok).toBeGreaterThan(20);
  }, 180_000);

  it('guards admin actions with the token', async () => {
    const res = await fetch(`${up.url}/_mcml/api/targets/local-aws/fail`, { method: 'POST' });
    expect(res.status).toBe(401);
    const traffic = await fetch(`${up.url}/_mcml/api/traffic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${up.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ count: 20 }),
    });
    expect(await traffic.json()).toMatchObject({ sent: 20, ok: 20, failed: 0 });
    expect((await getState(up.url)).active).toBe('local-aws');
  });

  it('rolls a target onto new replica processes, one at a time', async () => {
    const before = (await getState(up.url)).targets.find((t) => t.name === 'local-gcp')!;
    const res = await fetch(`${up.url}/_mcml/api/targets/local-gcp/rollout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${up.token}` },
    });
    expect(res.status).toBe(200);
    const after = await getState(up.url);
    remember(after);
    const gcp = after.targets.find((t) => t.name === 'local-gcp')!;
    expect(gcp.replicas.ready).toBe(before.replicas.ready);
    for (const pid of before.replicas.pids) expect(gcp.replicas.pids).not.toContain(pid);
    expect(gcp.health).toBe('healthy');
    expect(after.events.map((e) => e.message)).toContain('rolling restart done');
  }, 60_000);

  it('shows the same facts in the terminal with mcml status', async () => {
    const text = await runMcml(['status', '--url', up.url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Active: local-aws/);
    expect(text.stdout).toMatch(/local-gcp\s+gcp\/us-central1\s+healthy/);
    const json = await runMcml(['status', '--url', up.url, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ service: 'iris', active: 'local-aws' });
    const none = await runMcml(['status', '--url', 'http://127.0.0.1:1']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no mcml up answers at http:\/\/127\.0\.0\.1:1/);
  });

  describe('dashboard in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) {
        throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
      }
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('shows three healthy targets; Fail on the primary shows the secondary active', async () => {
      await waitForState(up.url, (s) => s.targets.every((t) => t.health === 'healthy'));
      const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${up.url}/#token=${up.token}`);
      // The token leaves the address bar once read.
      await page.waitForFunction(() => !location.hash.includes('token'));
      const cards = page.locator('section[data-target]');
      await expect.poll(() => cards.count(), { timeout: 10_000 }).toBe(3);
      for (const name of ['local-aws', 'local-gcp', 'local-azure']) {
        await page
          .locator(`section[data-target="${name}"][data-health="healthy"]`)
          .waitFor({ timeout: 10_000 });
      }
      // The start-up rollout: every target through its waves, each health gate passed.
      await page.locator('[data-testid="rollout"][data-state="done"]').waitFor({ timeout: 10_000 });
      expect(
        await page
          .locator('[data-testid="rollout"] tr[data-rollout-target]')
          .evaluateAll((rows) =>
            rows.map(
              (r) => `${r.getAttribute('data-rollout-target')}:${r.getAttribute('data-phase')}`,
            ),
          ),
      ).toEqual(['local-azure:done', 'local-gcp:done', 'local-aws:done']);
      expect(
        await page.locator('[data-testid="rollout"] [data-gate="health"][data-ok="true"]').count(),
      ).toBe(3);
      await page.locator('[data-testid="send-traffic"]').click();
      await page
        .locator('.toast')
        .filter({ hasText: /100\/100 ok/ })
        .waitFor({ timeout: 30_000 });
      // The chart and the req/s figures show the traffic before the screenshot.
      await page.waitForFunction(() => {
        const text = document.querySelector('[data-testid="total-rps"]')?.textContent;
        return text !== undefined && text !== '0.0';
      });
      await mkdir(join(ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard.png') });

      await page.locator('section[data-target="local-aws"] button', { hasText: 'Fail' }).click();
      await page
        .locator('[data-testid="active-target"]', { hasText: 'local-gcp' })
        .waitFor({ timeout: 5000 });
      await page
        .locator('[data-testid="events"] li', { hasText: 'failover: local-aws → local-gcp' })
        .first()
        .waitFor({ timeout: 5000 });
      await page
        .locator('section[data-target="local-aws"] [data-testid="health"]', {
          hasText: 'failed by hand',
        })
        .waitFor({ timeout: 5000 });
      await page.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard-failed.png') });

      await page.locator('section[data-target="local-aws"] button', { hasText: 'Restore' }).click();
      await page
        .locator('[data-testid="active-target"]', { hasText: 'local-aws' })
        .waitFor({ timeout: 30_000 });
      expect(errors).toEqual([]);
      await page.close();
    }, 90_000);
  });

  it('stops on SIGTERM with no process left', async () => {
    remember(await getState(up.url));
    expect(seenPids.size).toBeGreaterThanOrEqual(4);
    const upPid = up.child.pid!;
    const code = await up.stop();
    expect(code).toBe(0);
    expect(up.output()).toMatch(/no process left running/);
    expect(alive(upPid)).toBe(false);
    for (const pid of seenPids) expect(alive(pid), `replica ${pid}`).toBe(false);
  }, 60_000);
});

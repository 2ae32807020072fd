/**
 * The dashboard's Costs view in Chromium: daily spend by cloud stacked, the plan estimate and
 * budget lines, and this run's live estimate labelled as estimated.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardHandler } from '../../src/apps/dashboard/server.js';
import type { CostsView, DashboardState } from '../../src/apps/dashboard/state.js';
import { fakeBackend } from '../dashboard/fake-backend.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let server: Server;
let base: string;
let browser: Browser;

const costs: CostsView = {
  currency: 'USD',
  month: '2026-12',
  days: ['2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04'],
  billed: { aws: [140, 150, 180, 60], gcp: [130, 132, 128, 40], azure: [150, 149, 151, 50] },
  billedSource: 'billed, from .mcml/cost.duckdb (rows tagged mcml-service=ml-inference)',
  estimatePerDay: 431.52,
  budgetPerDay: 645.16,
  live: {
    since: Date.now() - 3_600_000,
    cost: 17.98,
    byCloud: { aws: 6.12, gcp: 5.72, azure: 6.14 },
    replicaHours: 6,
    perHour: 17.98,
  },
};

beforeAll(async () => {
  const backend = fakeBackend();
  const withCosts = { ...backend, state: (): DashboardState => ({ ...backend.state(), costs }) };
  const handler = createDashboardHandler({
    backend: withCosts,
    adminToken: 'x'.repeat(32),
    pushIntervalMs: 60_000,
  });
  server = createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

describe('dashboard Costs view', () => {
  it('draws daily spend by cloud with the estimate and budget lines and the live estimate', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1300 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
    const panel = page.getByTestId('costs');
    await panel.waitFor({ timeout: 20_000 });
    expect((await page.getByTestId('costs-live').textContent())!.replace(/\s+/g, ' ')).toMatch(
      /\$17\.98 estimated \(6\.00 replica-hours × catalog price\)/,
    );
    expect(await page.getByTestId('costs-billed').textContent()).toMatch(
      /\$1,460\.00 this month · billed, from/,
    );
    const legend = await panel.locator('.legend').textContent();
    for (const label of [
      'aws billed',
      'azure billed',
      'gcp billed',
      'this run, estimated',
      'plan estimate $431.52/day',
      'budget $645.16/day',
    ])
      expect(legend).toContain(label);
    // uPlot drew a canvas with content.
    const drawn = await panel.locator('canvas').evaluate((c: HTMLCanvasElement) => {
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
      return painted;
    });
    expect(drawn).toBeGreaterThan(1000);
    await mkdir(join(ROOT, 'test-artifacts'), { recursive: true });
    await panel.screenshot({ path: join(ROOT, 'test-artifacts', 'dashboard-costs.png') });
    expect(errors).toEqual([]);
    await page.close();
  });
});

/**
 * The dashboard's Costs view in Chromium: daily spend by cloud stacked, the plan estimate and
 * budget lines, and this run's live estimate labelled as estimated.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  artifactPath,
  dashboardInChromium,
  type DashboardInChromium,
} from '../dashboard/in-chromium.js';
import type { CostsView } from '../../src/apps/dashboard/state.js';

let dashboard: DashboardInChromium;
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
  dashboard = await dashboardInChromium({ costs });
  base = dashboard.base;
  browser = dashboard.browser;
});

afterAll(async () => {
  await dashboard?.close();
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
    await panel.screenshot({ path: await artifactPath('dashboard-costs.png') });
    expect(errors).toEqual([]);
    await page.close();
  });
});

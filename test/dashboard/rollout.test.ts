/**
 * The dashboard's Rollout panel in Chromium: waves in order, each target's phase, revision and
 * gate results — here a rollout where the second wave's health gate failed and rolled back.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, dashboardInChromium, type DashboardInChromium } from './in-chromium.js';
import type { DashboardState, RolloutView } from '../../src/apps/dashboard/state.js';

let dashboard: DashboardInChromium;
let base: string;
let browser: Browser;

const rollout: RolloutView = {
  state: 'failed',
  waves: [['azure-east'], ['gcp-central'], ['aws-east']],
  wave: 2,
  startedAt: Date.now() - 60_000,
  finishedAt: Date.now() - 5_000,
  targets: [
    {
      name: 'azure-east',
      wave: 1,
      phase: 'done',
      message: 'at revision 2',
      revision: 2,
      gates: [
        {
          gate: 'health',
          ok: true,
          message: '1 pod(s) ready; model iris answered an inference (2 outputs)',
        },
      ],
    },
    {
      name: 'gcp-central',
      wave: 2,
      phase: 'rolled-back',
      message: "rolled back to revision 1's objects (recorded as revision 3)",
      revision: 3,
      gates: [
        { gate: 'health', ok: false, message: 'inference on iris: HTTP 500 model failed to load' },
      ],
    },
    {
      name: 'aws-east',
      wave: 3,
      phase: 'halted',
      message: 'untouched: an earlier wave failed',
      gates: [],
    },
  ],
};

beforeAll(async () => {
  dashboard = await dashboardInChromium({ rollout });
  base = dashboard.base;
  browser = dashboard.browser;
});

afterAll(async () => {
  await dashboard?.close();
});

describe('dashboard Rollout panel', () => {
  it('shows the waves in order, each target phase and its gate results', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1400 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    const panel = page.locator('[data-testid="rollout"]');
    await panel.waitFor({ timeout: 10_000 });
    expect(await panel.getAttribute('data-state')).toBe('failed');
    await expect.poll(() => panel.locator('.panel-title').textContent()).toMatch(/wave 2 of 3/);
    const rows = panel.locator('tr[data-rollout-target]');
    expect(
      await rows.evaluateAll((r) => r.map((x) => x.getAttribute('data-rollout-target'))),
    ).toEqual(['azure-east', 'gcp-central', 'aws-east']);
    expect(await rows.evaluateAll((r) => r.map((x) => x.getAttribute('data-phase')))).toEqual([
      'done',
      'rolled-back',
      'halted',
    ]);
    const passed = panel.locator('tr[data-rollout-target="azure-east"] [data-gate="health"]');
    expect(await passed.getAttribute('data-ok')).toBe('true');
    expect(await passed.textContent()).toMatch(/answered an inference/);
    const failed = panel.locator('tr[data-rollout-target="gcp-central"] [data-gate="health"]');
    expect(await failed.getAttribute('data-ok')).toBe('false');
    expect(await failed.textContent()).toMatch(/HTTP 500 model failed to load/);
    expect(
      await panel.locator('tr[data-rollout-target="gcp-central"] td').nth(3).textContent(),
    ).toBe('3');
    await panel.screenshot({ path: await artifactPath('dashboard-rollout.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('serves the rollout in the state API', async () => {
    const res = await fetch(`${base}/_mcml/api/state`);
    const state = (await res.json()) as DashboardState;
    expect(state.rollout?.waves).toEqual(rollout.waves);
    expect(state.rollout?.targets.map((t) => t.phase)).toEqual(['done', 'rolled-back', 'halted']);
  });
});

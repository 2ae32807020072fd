/**
 * The dashboard served from the scripted backend, with extra state, and a headless Chromium to
 * look at it: for the browser tests of its panels. Listens on 127.0.0.1; `close()` stops both.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { createDashboardHandler } from '../../src/apps/dashboard/server.js';
import type { DashboardState } from '../../src/apps/dashboard/state.js';
import { fakeBackend } from './fake-backend.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface DashboardInChromium {
  /** http://127.0.0.1:PORT of the dashboard. */
  base: string;
  browser: Browser;
  close(): Promise<void>;
}

export async function dashboardInChromium(
  extra: Partial<DashboardState>,
): Promise<DashboardInChromium> {
  const backend = fakeBackend();
  const handler = createDashboardHandler({
    backend: { ...backend, state: (): DashboardState => ({ ...backend.state(), ...extra }) },
    adminToken: 'x'.repeat(32),
    pushIntervalMs: 60_000,
  });
  const server = createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stopServer = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  if (!existsSync(CHROMIUM)) {
    await stopServer();
    throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium"`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  return {
    base,
    browser,
    close: async () => {
      await browser.close();
      await stopServer();
    },
  };
}

/** Where a test's screenshot goes: test-artifacts/NAME under the repository. */
export async function artifactPath(name: string): Promise<string> {
  await mkdir(join(ROOT, 'test-artifacts'), { recursive: true });
  return join(ROOT, 'test-artifacts', name);
}

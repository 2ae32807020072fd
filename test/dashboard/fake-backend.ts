/** A scripted DashboardBackend for the dashboard's own tests: three targets, a moving clock. */
import type { DashboardBackend } from '../../src/apps/dashboard/server.js';
import type {
  DashboardState,
  EventView,
  TargetView,
  TrafficResult,
} from '../../src/apps/dashboard/state.js';

export interface FakeBackend extends DashboardBackend {
  calls: string[];
}

function target(
  name: string,
  cloud: string,
  region: string,
  tier: number,
  hourly: number,
): TargetView {
  return {
    name,
    provider: 'local',
    cloud,
    region,
    tier,
    instanceType:
      cloud === 'aws' ? 'p3.2xlarge' : cloud === 'gcp' ? 'n1-standard-8+V100' : 'Standard_NC6s_v3',
    capacity: 'on-demand',
    health: 'healthy',
    disabled: false,
    active: tier === 1,
    replicas: { ready: 2, desired: 2, min: 2, max: 4, restarts: 0, pids: [] },
    endpoint: `http://127.0.0.1:0/${name}`,
    rps: tier === 1 ? 42.3 : 0,
    errorRatio: 0,
    ...(tier === 1 ? { p50Ms: 2.4, p99Ms: 11.8 } : {}),
    hourly,
  };
}

export function fakeBackend(): FakeBackend {
  const listeners = new Set<() => void>();
  const started = Date.now() - 95_000;
  const targets = [
    target('aws-east', 'aws', 'us-east-1', 1, 6.12),
    target('gcp-central', 'gcp', 'us-central1', 2, 5.72),
    target('azure-east', 'azure', 'eastus', 3, 6.12),
  ];
  const events: EventView[] = [
    {
      at: started + 1000,
      kind: 'sync',
      level: 'ok',
      target: 'aws-east',
      message: 'model synced to aws-east (1 object)',
    },
    {
      at: started + 3000,
      kind: 'replica',
      level: 'info',
      target: 'aws-east',
      message: 'aws-east-1 ready on port 41001',
    },
    { at: started + 4000, kind: 'failover', level: 'ok', message: 'aws-east is active (initial)' },
  ];
  const changed = () => listeners.forEach((l) => l());
  const recompute = () => {
    const active = targets
      .filter((t) => !t.disabled && t.health === 'healthy')
      .sort((a, b) => a.tier - b.tier)[0];
    for (const t of targets) t.active = t === active;
    return active?.name ?? null;
  };
  const backend: FakeBackend = {
    calls: [],
    state(): DashboardState {
      const now = Date.now();
      const active = recompute();
      const t: number[] = [];
      const series: Record<string, number[]> = Object.fromEntries(targets.map((x) => [x.name, []]));
      for (let s = Math.floor(now / 1000) - 120; s < Math.floor(now / 1000); s++) {
        t.push(s);
        targets.forEach((x, i) =>
          series[x.name]!.push(
            i === 0 ? 30 + 15 * Math.sin(s / 9) : i === 1 && s % 60 > 40 ? 20 : 0,
          ),
        );
      }
      return {
        service: 'iris',
        model: 'iris',
        startedAt: started,
        now,
        frontDoor: 'http://127.0.0.1:8080',
        routing: 'ordered',
        active,
        totals: { hourly: 17.96, monthly: 13110.8, rps: 42.3 },
        targets: structuredClone(targets),
        events: [...events],
        sync: targets.flatMap((x) => [
          { item: 'model', target: x.name, state: 'done' as const, objects: 1, bytes: 3_412 },
          { item: 'iris-data', target: x.name, state: 'done' as const, objects: 2, bytes: 5_120 },
        ]),
        traffic: { t, series },
      };
    },
    fail(name) {
      backend.calls.push(`fail ${name}`);
      const before = recompute();
      targets.find((x) => x.name === name)!.disabled = true;
      const after = recompute();
      events.push({
        at: Date.now(),
        kind: 'admin',
        level: 'warn',
        target: name,
        message: `${name} failed by hand`,
      });
      if (before !== after)
        events.push({
          at: Date.now(),
          kind: 'failover',
          level: 'warn',
          message: `failover: ${before} → ${after}`,
        });
      changed();
      return Promise.resolve();
    },
    restore(name) {
      backend.calls.push(`restore ${name}`);
      targets.find((x) => x.name === name)!.disabled = false;
      events.push({
        at: Date.now(),
        kind: 'admin',
        level: 'ok',
        target: name,
        message: `${name} restored`,
      });
      changed();
      return Promise.resolve();
    },
    rollout(name) {
      backend.calls.push(`rollout ${name}`);
      return Promise.resolve();
    },
    sendTraffic(count): Promise<TrafficResult> {
      backend.calls.push(`traffic ${count}`);
      return Promise.resolve({
        sent: count,
        ok: count,
        failed: 0,
        byTarget: { [recompute() ?? 'none']: count },
        ms: 12,
      });
    },
    metrics() {
      return Promise.resolve('mcml_up 1\n');
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return backend;
}

/** Even a SIGKILLed `mcml up` leaves no replica behind: its watchdog stops their groups. */
import { afterAll, describe, expect, it } from 'vitest';
import { alive, getState, localExample, startUp, type UpProcess } from './helpers.js';

let up: UpProcess | undefined;

afterAll(async () => {
  await up?.stop();
});

describe('mcml up killed with SIGKILL', () => {
  it('has its replicas stopped by the watchdog', async () => {
    up = await startUp(await localExample());
    const pids = (await getState(up.url)).targets.flatMap((t) => t.replicas.pids);
    expect(pids).toHaveLength(3);
    const exited = new Promise((r) => up!.child.once('exit', r));
    process.kill(up.child.pid!, 'SIGKILL'); // the process only, not its group
    await exited;
    // Nothing signals when another process's orphan goes away: poll /proc for a while.
    const deadline = Date.now() + 20_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(pids.filter(alive)).toEqual([]);
  }, 120_000);
});

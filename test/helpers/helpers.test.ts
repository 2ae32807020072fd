import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from './azurite.js';
import { startMoto, type Moto } from './moto.js';

describe('test servers', () => {
  let moto: Moto | undefined;
  let azurite: Azurite | undefined;
  beforeAll(async () => {
    moto = await startMoto();
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await Promise.all([moto?.stop(), azurite?.stop()]);
  });
  it('moto and azurite answer HTTP', async () => {
    expect((await fetch(`${moto!.endpoint}/`)).status).toBeLessThan(500);
    const res = await fetch(`${azurite!.blobEndpoint}?comp=list`);
    expect(res.status).toBeGreaterThanOrEqual(200);
  });
});

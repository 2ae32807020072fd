/** The files `mcml up` copies for a model: the .onnx file and the weights it keeps beside it. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import picomatch from 'picomatch';
import { literalGlob, modelFiles } from '../../src/apps/up/model-files.js';
import type { ObjectStore } from '../../src/ports/object-store.js';
import { matMulModel, subgraphModel } from '../helpers/onnx-models.js';

function storeWith(key: string, body: Buffer): ObjectStore {
  return {
    uri: 's3://bucket/models/',
    stat: (k: string) => Promise.resolve(k === key ? { key, size: body.length } : undefined),
    read: () => Promise.resolve(Readable.from([body])),
  } as unknown as ObjectStore;
}

describe('modelFiles', () => {
  it('scans a model in a store (a temp copy) for the external data files it names', async () => {
    const onnx = matMulModel({ side: 2, external: { location: 'w/[0].bin' } });
    expect(await modelFiles({ source: storeWith('m.onnx', onnx), file: 'm.onnx' })).toEqual([
      'm.onnx',
      'w/[0].bin',
    ]);
    const branch = subgraphModel('then.bin');
    expect(await modelFiles({ source: storeWith('m.onnx', branch), file: 'm.onnx' })).toEqual([
      'm.onnx',
      'then.bin',
    ]);
  });

  it('copies the file alone when it keeps its weights inline or is no model it can read', async () => {
    for (const body of [matMulModel({ side: 2 }), Buffer.from('not onnx')])
      expect(await modelFiles({ source: storeWith('m.onnx', body), file: 'm.onnx' })).toEqual([
        'm.onnx',
      ]);
  });

  it('turns keys into globs that match them alone', () => {
    for (const key of ['w/[0].bin', 'a*b?.bin', 'x{1,2}.bin', 'model.onnx.data']) {
      const match = picomatch(literalGlob(key), { dot: true });
      expect(match(key)).toBe(true);
      expect(match(key.replace(/\.bin$|\.data$/, '.other'))).toBe(false);
    }
    expect(picomatch(literalGlob('a*b?.bin'), { dot: true })('aXXbY.bin')).toBe(false);
  });
});

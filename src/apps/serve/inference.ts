/**
 * The inference routes of `mcml serve`: Open Inference Protocol v2 (JSON and the binary tensor
 * extension) and KServe v1 `:predict`, each request decoded, queued on its model's batcher and
 * answered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Batcher } from './batcher.js';
import { HttpError, parseJson, readBody, sendJson } from './http.js';
import type { LoadedModel } from './model.js';
import { decodeV2Request, toBytes, toJsonData, type Tensor } from './tensor.js';
import { decodeV1Request, encodeV1Response } from './v1.js';

/** A loaded model with its batcher. */
export interface Served {
  model: LoadedModel;
  batcher: Batcher;
  /** Infer requests whose body is still being read or decoded. */
  receiving: number;
}

/**
 * Reads and decodes a request, then queues its inputs. While it is being read it counts as
 * an arrival the batcher may wait for; it stops counting the moment it is queued (or fails).
 */
async function receive<T>(
  s: Served,
  decode: () => Promise<T>,
  inputsOf: (decoded: T) => Tensor[],
): Promise<{ decoded: T; outputs: Promise<Tensor[]> }> {
  s.receiving++;
  let decoded: T;
  try {
    decoded = await decode();
  } catch (error) {
    s.receiving--;
    // A batch waiting for this request can go now.
    if (s.receiving === 0) s.batcher.wake();
    throw error;
  }
  s.receiving--;
  const outputs = s.batcher.submit(inputsOf(decoded));
  if (s.receiving === 0) s.batcher.wake();
  return { decoded, outputs };
}

async function decodeV2(req: IncomingMessage, s: Served, maxBodyBytes: number) {
  const body = await readBody(req, maxBodyBytes);
  const headerLength = req.headers['inference-header-content-length'];
  let header: unknown;
  let binary: Buffer | undefined;
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!Number.isInteger(n) || n < 0 || n > body.length) {
      throw new HttpError(
        400,
        'Inference-Header-Content-Length is not a valid length for this body',
      );
    }
    header = parseJson(body.subarray(0, n));
    binary = body.subarray(n);
  } else {
    header = parseJson(body);
  }
  return decodeV2Request(header, binary, s.model.inputs, s.model.outputs);
}

/** POST /v2/models/{name}/infer */
export async function inferV2(
  req: IncomingMessage,
  res: ServerResponse,
  s: Served,
  maxBodyBytes: number,
): Promise<void> {
  const { decoded: request, outputs: pending } = await receive(
    s,
    () => decodeV2(req, s, maxBodyBytes),
    (r) => r.inputs,
  );
  const outputs = await pending;
  const wanted =
    request.outputs ??
    s.model.outputs.map((o) => ({
      name: o.name,
      binary: request.binaryOutputs,
    }));
  const chunks: Buffer[] = [];
  const outs = wanted.map((w) => {
    const t = outputs.find((x) => x.name === w.name)!;
    if (w.binary) {
      const bytes = toBytes(t.data);
      chunks.push(bytes);
      return {
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        parameters: { binary_data_size: bytes.length },
      };
    }
    return {
      name: t.name,
      datatype: t.datatype,
      shape: t.shape,
      data: toJsonData(t.data, t.datatype, t.name, true),
    };
  });
  const response = {
    model_name: s.model.name,
    model_version: '1',
    ...(request.id !== undefined ? { id: request.id } : {}),
    outputs: outs,
  };
  if (chunks.length === 0) {
    sendJson(res, 200, response);
    return;
  }
  const json = Buffer.from(JSON.stringify(response));
  const payload = Buffer.concat([json, ...chunks]);
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Inference-Header-Content-Length': json.length,
    'Content-Length': payload.length,
  });
  res.end(payload);
}

/** POST /v1/models/{name}:predict */
export async function predictV1(
  req: IncomingMessage,
  res: ServerResponse,
  s: Served,
  maxBodyBytes: number,
): Promise<void> {
  const { outputs: pending } = await receive(
    s,
    async () => decodeV1Request(parseJson(await readBody(req, maxBodyBytes)), s.model.inputs),
    (inputs) => inputs,
  );
  const outputs = await pending;
  sendJson(res, 200, encodeV1Response(outputs));
}

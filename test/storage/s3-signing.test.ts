import { PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { unsignedPayloadOverTls } from '../../src/adapters/aws/s3-object-store.js';

/** The signed request's x-amz-content-sha256, captured before it would go on the wire. */
async function payloadHeader(endpoint: string, send: (client: S3Client) => Promise<unknown>) {
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
  unsignedPayloadOverTls(client);
  client.middlewareStack.add(
    () => (args) => {
      const headers = (args.request as { headers: Record<string, string> }).headers;
      throw Object.assign(new Error('captured'), { sent: headers['x-amz-content-sha256'] });
    },
    { step: 'deserialize', priority: 'low', name: 'capture' },
  );
  try {
    await send(client);
  } catch (error) {
    return (error as { sent?: string }).sent;
  }
  throw new Error('the request was not captured');
}

describe('S3 request signing of object bytes', () => {
  const body = Buffer.alloc(1024, 7);
  const part = (client: S3Client) =>
    client.send(
      new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId: 'u', PartNumber: 1, Body: body }),
    );
  const put = (client: S3Client) =>
    client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: body }));

  it('over TLS, parts and single PUTs sign UNSIGNED-PAYLOAD (Content-MD5 checks the bytes)', async () => {
    expect(await payloadHeader('https://127.0.0.1:9', part)).toBe('UNSIGNED-PAYLOAD');
    expect(await payloadHeader('https://127.0.0.1:9', put)).toBe('UNSIGNED-PAYLOAD');
  });

  it('over plain HTTP the payload stays signed with its sha256', async () => {
    expect(await payloadHeader('http://127.0.0.1:9', part)).toMatch(/^[0-9a-f]{64}$/);
  });
});

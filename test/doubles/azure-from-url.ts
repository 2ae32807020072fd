/**
 * Azurite answers 501 to Put Block From URL, so this double adds it: an HTTP proxy in front of
 * Azurite that forwards every request unchanged, except `PUT ?comp=block` with
 * `x-ms-copy-source`. Those it serves as Azure does: it fetches the source URL's byte range
 * itself (here: a presigned S3 URL on moto) and stages the block in Azurite with the account
 * key. It counts the body bytes clients send, so a test can check that the object's bytes
 * never went through the client.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';

export interface AzureFromUrlDouble {
  /** Blob endpoint for the account, e.g. http://127.0.0.1:PORT/devstoreaccount1. */
  endpoint: string;
  /** Object bytes received from clients: request bodies other than block lists. */
  clientBodyBytes: { value: number };
  /** Put Block From URL requests served, and source bytes fetched for them. */
  fromUrl: { requests: number; bytes: number };
  stop(): Promise<void>;
}

export async function startAzureFromUrlDouble(
  azuriteBlobEndpoint: string,
  account: string,
  accountKey: string,
): Promise<AzureFromUrlDouble> {
  const azurite = new URL(azuriteBlobEndpoint);
  const service = new BlobServiceClient(
    `${azurite.origin}/${account}`,
    new StorageSharedKeyCredential(account, accountKey),
  );
  const clientBodyBytes = { value: 0 };
  const fromUrl = { requests: 0, bytes: 0 };

  const stageFromUrl = async (path: string, blockId: string, source: string, range: string) => {
    // /account/container/blob/name → container, blob name
    const [, , container, ...rest] = path.split('/');
    const response = await fetch(source, range ? { headers: { range } } : {});
    if (response.status !== 200 && response.status !== 206) {
      return { status: 409, code: 'CannotVerifyCopySource', text: await response.text() };
    }
    const data = Buffer.from(await response.arrayBuffer());
    fromUrl.requests += 1;
    fromUrl.bytes += data.length;
    await service
      .getContainerClient(decodeURIComponent(container!))
      .getBlockBlobClient(rest.map(decodeURIComponent).join('/'))
      .stageBlock(blockId, data, data.length);
    return { status: 201 };
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const source = req.headers['x-ms-copy-source'];
    if (req.method === 'PUT' && url.searchParams.get('comp') === 'block' && source) {
      req.resume();
      const range = String(req.headers['x-ms-source-range'] ?? '');
      stageFromUrl(url.pathname, url.searchParams.get('blockid') ?? '', String(source), range)
        .then((r) => {
          const headers = {
            'x-ms-request-id': crypto.randomUUID(),
            'x-ms-version': String(req.headers['x-ms-version'] ?? '2025-01-05'),
            date: new Date().toUTCString(),
          };
          if (r.status === 201) {
            res.writeHead(201, { ...headers, 'content-length': 0 }).end();
          } else {
            const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${r.code}</Code><Message>source answered: ${r.text}</Message></Error>`;
            res
              .writeHead(r.status, {
                ...headers,
                'x-ms-error-code': r.code!,
                'content-type': 'application/xml',
              })
              .end(body);
          }
        })
        .catch((error: unknown) => {
          res.writeHead(500, { 'x-ms-error-code': 'InternalError' }).end(String(error));
        });
      return;
    }
    if (url.searchParams.get('comp') !== 'blocklist') {
      req.on('data', (d: Buffer) => (clientBodyBytes.value += d.length));
    }
    const upstream = request(
      {
        host: azurite.hostname,
        port: azurite.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/${account}`,
    clientBodyBytes,
    fromUrl,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

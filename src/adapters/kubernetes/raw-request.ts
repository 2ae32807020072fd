/**
 * A plain HTTP request to the API server with the kubeconfig's credentials and TLS settings,
 * for what the generated client has no call for: the service proxy with a request body, and a
 * cheap authenticated ping.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { isStaleSocket, type ClusterConnection } from './connection.js';

export interface RawAnswer {
  status: number;
  body: string;
}

/**
 * Sends once more when the kept socket had just been closed by the server: what goes through
 * here (the ping, the health gate's model metadata and inference) is safe to repeat.
 */
export async function rawRequest(
  kc: KubeConfig,
  connection: ClusterConnection,
  method: string,
  path: string,
  options: { body?: string; contentType?: string; timeoutMs: number; signal?: AbortSignal },
): Promise<RawAnswer> {
  return sendRaw(kc, connection, method, path, options).catch((error: unknown) => {
    if (isStaleSocket(error)) return sendRaw(kc, connection, method, path, options);
    throw error;
  });
}

async function sendRaw(
  kc: KubeConfig,
  connection: ClusterConnection,
  method: string,
  path: string,
  options: { body?: string; contentType?: string; timeoutMs: number; signal?: AbortSignal },
): Promise<RawAnswer> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig context has no cluster');
  const url = new URL(path, server.replace(/\/+$/, '') + '/');
  const opts: RequestOptions = { method, headers: {} };
  await kc.applyToHTTPSOptions(opts);
  opts.agent = connection.keep(opts.agent);
  const headers = opts.headers as Record<string, string>;
  headers.accept = 'application/json, */*';
  if (options.body !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const signal = options.signal
    ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
    : AbortSignal.timeout(options.timeoutMs);
  return new Promise<RawAnswer>((resolve, reject) => {
    const req = send(url, { ...opts, signal }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

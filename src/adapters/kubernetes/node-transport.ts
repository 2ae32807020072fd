/**
 * Requests through `node:http(s)` with the agent the kubeconfig made: the path for a cluster
 * reached through a proxy (`proxy-url`: an HTTP CONNECT or SOCKS agent), which the lean client
 * (`http1.ts`) does not speak. Same request and answer shapes as that client.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Http1Answer, Http1Request } from './http1.js';

export function nodeRequest(
  url: string,
  agent: HttpAgent,
  req: Http1Request,
): Promise<Http1Answer> {
  const signals = [
    ...(req.signal ? [req.signal] : []),
    ...(req.timeoutMs !== undefined ? [AbortSignal.timeout(req.timeoutMs)] : []),
  ];
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  const headers = { ...req.headers };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise<Http1Answer>((resolve, reject) => {
    const r = send(
      url,
      { method: req.method, headers, agent, ...(signal ? { signal } : {}) },
      (res) => {
        void read(res, req).then(resolve, reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

async function read(res: IncomingMessage, req: Http1Request): Promise<Http1Answer> {
  const status = res.statusCode ?? 0;
  const sink = req.onHead?.(status);
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) {
    if (sink) sink(chunk as string);
    else body += chunk as string;
  }
  return { status, body };
}

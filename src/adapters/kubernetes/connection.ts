/**
 * One kept-alive HTTPS agent per cluster for @kubernetes/client-node's request pipeline. The
 * client's KubeConfig builds a new `https.Agent` for every request, so every request paid a
 * TLS secure context and a full handshake: at 30 clusters × ~30 requests that was most of the
 * client's CPU. Requests to one cluster now share sockets and one secure context; a changed
 * credential (an exec plugin rotating a client certificate) gets a new agent.
 */
import { Agent, type AgentOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { KubeConfig, RequestContext } from '@kubernetes/client-node';

/** Sockets kept per cluster: enough for the apply batch and a watch. */
const MAX_SOCKETS = 16;

type TlsMaterial = Pick<
  AgentOptions,
  'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'
>;

/** PEM strings and buffers, their lists, flags: comparable as text. */
function text(value: unknown): string {
  if (Array.isArray(value)) return value.map(text).join('\n');
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  return JSON.stringify(value) ?? '';
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  const keys: (keyof TlsMaterial)[] = [
    'ca',
    'cert',
    'key',
    'pfx',
    'passphrase',
    'rejectUnauthorized',
    'servername',
  ];
  return keys.every((k) => text(a[k]) === text(b[k]));
}

/**
 * The kubeconfig's authentication for the generated client (headers, TLS material), with the
 * per-request agent swapped for a kept-alive one. Clusters behind a proxy keep the client's own
 * proxy agent.
 */
export interface ClusterConnection {
  getName(): string;
  applySecurityAuthentication(ctx: RequestContext): Promise<void>;
  /** The kept agent in place of one the kubeconfig made (same TLS material), else that one. */
  keep<A>(made: A): A | Agent;
  /** Closes the kept sockets. */
  close(): void;
}

export function keptAliveAuth(kc: KubeConfig): ClusterConnection {
  let kept: { material: TlsMaterial; agent: Agent } | undefined;
  const agentFor = (material: TlsMaterial): Agent => {
    if (kept && sameMaterial(kept.material, material)) return kept.agent;
    kept?.agent.destroy();
    const { ca, cert, key, pfx, passphrase } = material;
    const agent = new Agent({
      ...material,
      keepAlive: true,
      maxSockets: MAX_SOCKETS,
      secureContext: createSecureContext({ ca, cert, key, pfx, passphrase }),
    });
    kept = { material, agent };
    return agent;
  };
  const keep = <A>(made: A): A | Agent => {
    const cluster = kc.getCurrentCluster();
    if (cluster?.proxyUrl || !cluster?.server.startsWith('https:') || !(made instanceof Agent))
      return made;
    return agentFor(made.options);
  };
  return {
    getName: () => kc.getName(),
    applySecurityAuthentication: async (ctx) => {
      await kc.applySecurityAuthentication(ctx);
      const made = ctx.getAgent();
      if (made) ctx.setAgent(keep(made));
    },
    keep,
    close: () => {
      kept?.agent.destroy();
      kept = undefined;
    },
  };
}

/**
 * A request that failed because the kept socket it went out on had just been closed by the
 * server (its keep-alive timeout raced our reuse): sending it again on a new socket is safe for
 * what mcml sends (reads, server-side apply, delete — all idempotent).
 */
export function isStaleSocket(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e; depth++) {
    const err = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return true;
    if (typeof err.message === 'string' && /socket hang up|ECONNRESET|EPIPE/.test(err.message))
      return true;
    e = err.cause;
  }
  return false;
}

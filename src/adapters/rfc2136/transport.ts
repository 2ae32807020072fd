/** DNS over UDP with a TCP fallback for truncated answers (RFC 1035 §4.2, RFC 7766). */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { connect } from 'node:net';

export interface DnsServer {
  host: string;
  port: number;
}

/** Parses "host", "host:port" or "[v6]:port". */
export function parseServer(server: string): DnsServer {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : 53 };
  if (isIPv6(server)) return { host: server, port: 53 };
  const [host, port] = server.split(':');
  return { host: host ?? server, port: port ? Number(port) : 53 };
}

export class DnsTimeout extends Error {}

/** Sends one message over UDP and resolves with the reply of the same id. */
export function udpExchange(
  server: DnsServer,
  message: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(server.host) ? 'udp6' : 'udp4');
    const id = message.readUInt16BE(0);
    const timer = setTimeout(() => {
      socket.close();
      reject(new DnsTimeout(`no answer from ${server.host}:${server.port} in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', (reply) => {
      if (reply.length < 12 || reply.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      socket.close();
      reject(error);
    });
    socket.send(message, server.port, server.host);
  });
}

/** Sends one message over TCP (2-byte length prefix) and resolves with the reply. */
export function tcpExchange(
  server: DnsServer,
  message: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let data = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new DnsTimeout(`no answer from ${server.host}:${server.port} in ${timeoutMs} ms`));
    });
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(message.length, 0);
      socket.write(Buffer.concat([len, message]));
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
        socket.end();
        resolve(data.subarray(2, 2 + data.readUInt16BE(0)));
      }
    });
    socket.on('error', reject);
  });
}

/** UDP first, retried once; TCP when the reply is truncated. */
export async function exchange(
  server: DnsServer,
  message: Buffer,
  timeoutMs = 2000,
): Promise<Buffer> {
  let reply: Buffer;
  try {
    reply = await udpExchange(server, message, timeoutMs);
  } catch (error) {
    if (!(error instanceof DnsTimeout)) throw error;
    reply = await udpExchange(server, message, timeoutMs);
  }
  const truncated = (reply.readUInt16BE(2) & 0x0200) !== 0;
  return truncated ? tcpExchange(server, message, timeoutMs) : reply;
}

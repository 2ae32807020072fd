/** moto_server (AWS emulator: S3, Route 53, EKS, Cost Explorer) for tests. */
import { freePort, startServer, type RunningServer } from './process.js';

export interface Moto extends RunningServer {
  endpoint: string;
  /** Environment for AWS SDK clients pointed at this moto. */
  env: Record<string, string>;
}

/** Starts moto_server on a random loopback port. Call stop() in afterAll. */
export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const env = { ...process.env };
  // moto answers plain HTTP; the machine's CA bundle only matters for real AWS.
  delete env.AWS_CA_BUNDLE;
  const server = await startServer('moto_server', ['-H', '127.0.0.1', '-p', String(port)], port, {
    env,
    installHint: 'pip install "moto[server]"',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    ...server,
    endpoint,
    env: {
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: endpoint,
    },
  };
}

import { freePort, startProcess } from '../lib/processes.ts';
import type { Target } from './target.ts';

const SCRIPT = new URL('../peers/ceiling-server.mjs', import.meta.url).pathname;

/** Fastify plus one ES256 signature per request: what any token endpoint here can reach at most. */
export async function startCeiling(): Promise<Target> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startProcess({
    name: 'ceiling: fastify + ES256 sign',
    url,
    readyUrl: `${url}/ready`,
    command: process.execPath,
    args: [SCRIPT, String(port)],
    env: { PATH: process.env.PATH },
  });
  return {
    name: server.name,
    issuer: url,
    tokenUrl: `${url}/token`,
    introspectionUrl: `${url}/none`,
    clientId: 'c',
    clientSecret: 's',
    tokenForm: 'grant_type=client_credentials',
    pid: server.child.pid!,
    startupMs: server.startupMs,
    restart: () => Promise.reject(new Error('the ceiling server is not restarted')),
    stop: () => server.stop(),
  };
}

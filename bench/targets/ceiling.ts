import { freePort, startProcess } from '../lib/processes.ts';
import { processTarget, type Target } from './target.ts';

const SCRIPT = new URL('../peers/ceiling-server.mjs', import.meta.url).pathname;

/** Fastify plus one ES256 signature per request: what any token endpoint here can reach at most. */
export async function startCeiling(): Promise<Target> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return processTarget(
    {
      name: 'ceiling: fastify + ES256 sign',
      issuer: url,
      tokenUrl: `${url}/token`,
      introspectionUrl: `${url}/none`,
      clientId: 'c',
      clientSecret: 's',
      tokenForm: 'grant_type=client_credentials',
    },
    () =>
      startProcess({
        name: 'ceiling: fastify + ES256 sign',
        url,
        readyUrl: `${url}/ready`,
        command: process.execPath,
        args: [SCRIPT, String(port)],
        env: { PATH: process.env.PATH },
      }),
  );
}

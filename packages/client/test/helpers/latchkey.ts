import type { Settings } from '../../../server/src/config/defaults.ts';
import type { Backend, TestDatabase } from '../../../server/test/helpers/backends.ts';
import { FormBrowser } from '../../../server/test/helpers/form-browser.ts';
import { startServer, type RunningServer } from '../../../server/test/helpers/server.ts';
import { seedUserFlow, walkAuthorization, type UserFlowSeed } from '../../../server/test/helpers/user-flow.ts';
import type { FetchLike } from '../../src/index.ts';

/** A running Latchkey on a fresh database, seeded with the user-flow API, clients and user. */
export interface Latchkey {
  running: RunningServer;
  seed: UserFlowSeed;
  issuer: string;
  close(): Promise<void>;
}

export async function startLatchkey(backend: Backend, overrides: Partial<Settings> = {}): Promise<Latchkey> {
  const db: TestDatabase = await backend.create();
  const running = await startServer(db, overrides);
  const seed = await seedUserFlow(running);
  return {
    running,
    seed,
    issuer: running.issuer,
    async close() {
      await running.close();
      await db.drop();
    },
  };
}

/** A fetch that records every request (method and URL) before passing it to the real fetch. */
export function countingFetch(inner: FetchLike = (input, init) => fetch(input, init)) {
  const calls: { method: string; url: string }[] = [];
  const wrapped: FetchLike = (input, init) => {
    const url = input instanceof Request ? input.url : input.toString();
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    calls.push({ method, url });
    return inner(input, init);
  };
  return {
    fetch: wrapped,
    calls,
    /** Requests whose path ends with `path`. */
    count: (path: string) => calls.filter((c) => new URL(c.url).pathname.endsWith(path)).length,
  };
}

/**
 * The browser's part of the code flow, from the authorization URL the SDK built: the login form, the
 * consent form (Allow or Deny), until the redirect back to the client. Returns that redirect's URL.
 */
export async function authorizeInBrowser(
  browser: FormBrowser,
  issuer: string,
  url: string,
  options: { decision?: 'allow' | 'deny'; username?: string } = {},
): Promise<string> {
  return (await walkAuthorization(browser, issuer, url, options)).callback.href;
}

export { FormBrowser };

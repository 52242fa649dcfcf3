import assert from 'node:assert/strict';
import type { Settings } from '../../../server/src/config/defaults.ts';
import type { Backend, TestDatabase } from '../../../server/test/helpers/backends.ts';
import { FormBrowser } from '../../../server/test/helpers/form-browser.ts';
import { startServer, type RunningServer } from '../../../server/test/helpers/server.ts';
import { PASSWORD, seedUserFlow, type UserFlowSeed } from '../../../server/test/helpers/user-flow.ts';
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
  let page = await browser.get(url);
  for (let step = 0; step < 10; step++) {
    if (page.status === 303 && page.location && !page.location.startsWith(issuer)) return page.location;
    if (page.status === 303 && page.location) {
      page = await browser.get(page.location);
      continue;
    }
    assert.equal(page.status, 200, `unexpected ${page.status} at ${page.url}: ${page.text.slice(0, 300)}`);
    const [form] = browser.forms(page.text, page.url);
    assert.ok(form, `no form at ${page.url}`);
    if (new URL(page.url).pathname.endsWith('/login')) {
      page = await browser.submit(page, form, { values: { username: options.username ?? 'alice', password: PASSWORD } });
    } else {
      page = await browser.submit(page, form, { button: { name: 'decision', value: options.decision ?? 'allow' } });
    }
  }
  throw new Error('the authorization did not end in a redirect to the client');
}

export { FormBrowser };

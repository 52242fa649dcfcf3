import assert from 'node:assert/strict';
import { FormBrowser, PASSWORD, pkcePair, REDIRECT_URI, walkAuthorization } from '@latchkey/testing';
import type { Creds, Node, Reply, Traffic } from './traffic.ts';

export const USERNAME = 'alice';

/**
 * One refresh-token family as its holder sees it: the tokens of the last acknowledged answer. Only
 * one request at a time uses a chain, as a real client would.
 */
export class RefreshChain {
  /** Every refresh token the server handed out for this family, oldest first. */
  readonly refreshTokens: string[] = [];
  accessToken: string;
  /** The node that answered the last rotation. */
  lastNode: Node | undefined;

  readonly client: Creds;

  constructor(
    client: Creds,
    first: { refresh_token: string; access_token: string },
  ) {
    this.client = client;
    this.refreshTokens.push(first.refresh_token);
    this.accessToken = first.access_token;
  }

  get refreshToken(): string {
    return this.refreshTokens.at(-1)!;
  }

  get rotations(): number {
    return this.refreshTokens.length - 1;
  }

  /** Presents `token` (the current refresh token by default); a 200 becomes the chain's new state. */
  async refresh(traffic: Traffic, node: Node, token = this.refreshToken): Promise<Reply> {
    const reply = await traffic.post(node, '/token', { grant_type: 'refresh_token', refresh_token: token }, this.client);
    if (reply.status === 200 && token === this.refreshToken) {
      assert.equal(typeof reply.body?.refresh_token, 'string', `a rotation without a refresh token: ${reply.text}`);
      // A retry answered within the grace window repeats the pair already handed out (not news).
      if (reply.body.refresh_token !== this.refreshToken) this.refreshTokens.push(reply.body.refresh_token);
      this.accessToken = reply.body.access_token;
      this.lastNode = node;
    }
    return reply;
  }
}

/**
 * A new grant: walks /authorize at the issuer's node (the login form only the first time: the browser
 * keeps its session, and the client is first-party, so no consent page), then exchanges the
 * code at `tokenNode`. The client is confidential, so a lost rotation answer can be retried within the
 * grace window.
 */
export async function newChain(
  traffic: Traffic,
  browser: FormBrowser,
  issuer: string,
  tokenNode: Node,
  client: Creds,
  scope: string,
): Promise<RefreshChain> {
  const { verifier, challenge } = pkcePair();
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: REDIRECT_URI,
    scope,
    state: 'chaos',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const walked = await walkAuthorization(browser, issuer, `${issuer}/authorize?${params}`, { username: USERNAME, password: PASSWORD });
  const code = walked.callback.searchParams.get('code');
  assert.ok(code, `no code in ${walked.callback}`);
  const res = await traffic.post(
    tokenNode,
    '/token',
    { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI },
    client,
  );
  assert.equal(res.status, 200, `code exchange at ${tokenNode.name}: ${res.text}`);
  assert.ok(res.body.refresh_token, `no refresh token (is offline_access granted?): ${res.text}`);
  return new RefreshChain(client, res.body);
}

export { PASSWORD, REDIRECT_URI };

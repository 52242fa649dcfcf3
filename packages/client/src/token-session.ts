import { DEFAULTS } from './defaults.ts';
import { SessionExpiredError } from './errors.ts';
import { clientCore, type LatchkeyClient } from './client.ts';
import { readBody, resourceRequest } from './lib/resource-request.ts';
import { SingleFlight } from './lib/single-flight.ts';
import { stepUpIn } from './step-up.ts';
import { staleAt, type TokenSet } from './token-set.ts';

export interface TokenSessionOptions {
  /** Refresh this long before the access token expires (at most half its lifetime). Default 30 s. */
  refreshMarginSeconds?: number;
  /**
   * Called with every new token set before any caller gets its access token: persist it here. After a
   * rotation the old refresh token is spent, so losing the new one logs the user out.
   */
  onTokens?: (tokens: TokenSet) => void | Promise<void>;
}

/**
 * A user's tokens, kept fresh: `getAccessToken()` answers the cached access token, or refreshes it when
 * it is about to expire. However many callers ask at once, one refresh request is made and they all
 * get its result (a second refresh with the same, now spent, refresh token would be taken for theft and
 * revoke the whole family, RFC 9700 §4.14.2).
 *
 * @example
 * const session = client.session(tokens, { onTokens: (t) => store.save(userId, t) });
 * const res = await session.authorizedFetch('https://api.example.com/orders');
 */
export class TokenSession {
  private current: TokenSet;
  private readonly marginSeconds: number;
  private readonly flight = new SingleFlight<'refresh', TokenSet>();

  private readonly client: LatchkeyClient;
  private readonly options: TokenSessionOptions;

  constructor(
    client: LatchkeyClient,
    tokens: TokenSet,
    options: TokenSessionOptions = {},
  ) {
    this.client = client;
    this.options = options;
    this.current = tokens;
    this.marginSeconds = options.refreshMarginSeconds ?? DEFAULTS.sessionRefreshMarginSeconds;
  }

  /** The current tokens (after a refresh, the new ones). */
  get tokens(): TokenSet {
    return this.current;
  }

  /** A valid access token: the cached one, or a refreshed one when it is about to expire. */
  async getAccessToken(): Promise<string> {
    const now = Date.now() / 1000;
    if (now < staleAt(this.current, this.marginSeconds)) return this.current.accessToken;
    if (this.current.refreshToken === undefined) {
      if (this.current.expiresAt !== undefined && now >= this.current.expiresAt) {
        throw new SessionExpiredError('the access token has expired and there is no refresh token: the user must log in again');
      }
      return this.current.accessToken;
    }
    return (await this.refresh()).accessToken;
  }

  /**
   * fetch for the user with the current access token (refreshed first when about to expire):
   * `Authorization: Bearer`, or for a DPoP token `Authorization: DPoP` with a proof of the method, the
   * URL and the token (RFC 9449 §7.1), through oauth4webapi's protectedResourceRequest. A
   * `use_dpop_nonce` challenge is answered once with the API's nonce (§9). A 401 whose challenge says
   * `insufficient_user_authentication` (RFC 9470 §3) throws StepUpRequiredError: the user must sign in
   * again, as with SessionExpiredError. Any other answer, another 401 included, is returned as it is.
   * Redirects are not followed.
   *
   * @example
   * const res = await session.authorizedFetch('https://api.example.com/orders');
   */
  async authorizedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init);
    const body = await readBody(request);
    const accessToken = await this.getAccessToken();
    const dpop = await clientCore(this.client).dpop?.handle();
    const token = { accessToken, tokenType: this.current.tokenType };
    const answer = await resourceRequest(request, body, token, dpop, this.client.fetch);
    const stepUp = stepUpIn(answer);
    if (stepUp) throw stepUp;
    return answer.response;
  }

  /** Refreshes now (one request, shared by concurrent callers) and keeps the rotated refresh token. */
  refresh(): Promise<TokenSet> {
    return this.flight.run('refresh', async () => {
      const { refreshToken } = this.current;
      if (refreshToken === undefined) throw new SessionExpiredError('there is no refresh token');
      const next = await this.client.refresh(refreshToken, { previous: this.current });
      this.current = next;
      await this.options.onTokens?.(next);
      return next;
    });
  }
}

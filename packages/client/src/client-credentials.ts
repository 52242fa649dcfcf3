import * as oauth from 'oauth4webapi';
import { clientCore, type LatchkeyClient } from './client.ts';
import { DEFAULTS } from './defaults.ts';
import type { ClientCore } from './lib/client-core.ts';
import type { FetchLike } from './lib/http.ts';
import { isInvalidToken, readBody, resourceRequest } from './lib/resource-request.ts';
import { type RetryOptions, withRetry } from './lib/retry.ts';
import { SingleFlight } from './lib/single-flight.ts';
import { formParameters } from './refresh.ts';
import { staleAt, type TokenSet } from './token-set.ts';

export interface ClientCredentialsRequest {
  /** Space-separated scopes; without it, what the server grants by default. */
  scope?: string | undefined;
  /** RFC 8707 resource indicators: the API(s) the token is for. */
  resource?: string | readonly string[] | undefined;
}

/** One client-credentials token request (RFC 6749 §4.4.2): no cache, no retry. With DPoP, with a proof (RFC 9449 §5). */
export async function requestClientCredentialsToken(core: ClientCore, request: ClientCredentialsRequest = {}): Promise<TokenSet> {
  return core.requestTokens(
    'the token endpoint',
    ({ as, client, auth, options }) =>
      oauth.clientCredentialsGrantRequest(as, client, auth, formParameters({ scope: request.scope, resource: request.resource }), options),
    { process: oauth.processClientCredentialsResponse },
  );
}

export interface ClientCredentialsOptions extends ClientCredentialsRequest {
  /** A confidential client (with a secret). */
  client: LatchkeyClient;
  /** Ask for a new token this long before the cached one expires (at most half its lifetime). Default 60 s. */
  refreshMarginSeconds?: number;
  /** Backoff on 5xx answers and network errors (never on 4xx). Defaults: 4 attempts, 200 ms doubling to 5 s, jittered. */
  retry?: RetryOptions;
  /** The fetch authorizedFetch calls APIs with; by default the client's. */
  fetch?: FetchLike;
}

/**
 * A token source for a service calling APIs as itself (the client credentials grant): caches the
 * token until shortly before it expires, makes one request however many callers ask at once, and
 * retries transient failures with exponential backoff.
 *
 * @example
 * const tokens = new ClientCredentials({ client, scope: 'orders:read' });
 * const res = await tokens.authorizedFetch('https://api.example.com/orders');
 */
export class ClientCredentials {
  private cached: TokenSet | undefined;
  private readonly flight = new SingleFlight<'token', TokenSet>();
  private readonly marginSeconds: number;
  private readonly retry: Required<RetryOptions>;

  private readonly options: ClientCredentialsOptions;

  constructor(options: ClientCredentialsOptions) {
    this.options = options;
    this.marginSeconds = options.refreshMarginSeconds ?? DEFAULTS.clientCredentialsRefreshMarginSeconds;
    this.retry = {
      maxAttempts: options.retry?.maxAttempts ?? DEFAULTS.retryMaxAttempts,
      baseDelayMs: options.retry?.baseDelayMs ?? DEFAULTS.retryBaseDelayMs,
      maxDelayMs: options.retry?.maxDelayMs ?? DEFAULTS.retryMaxDelayMs,
    };
    if (!Number.isInteger(this.retry.maxAttempts) || this.retry.maxAttempts < 1) throw new TypeError('retry.maxAttempts must be an integer >= 1');
    if (!(this.marginSeconds >= 0)) throw new TypeError('refreshMarginSeconds must be >= 0');
  }

  /** A valid access token: the cached one, or a new one. */
  async getAccessToken(): Promise<string> {
    return (await this.getToken()).accessToken;
  }

  /** The cached token set, or a new one when it is missing or about to expire. */
  getToken(): Promise<TokenSet> {
    const cached = this.cached;
    if (cached && Date.now() / 1000 < staleAt(cached, this.marginSeconds)) return Promise.resolve(cached);
    return this.flight.run('token', async () => {
      const tokens = await withRetry(
        () => this.options.client.clientCredentialsGrant({ scope: this.options.scope, resource: this.options.resource }),
        this.retry,
      );
      this.cached = tokens;
      return tokens;
    });
  }

  /**
   * Drops the cached token, so the next caller gets a new one. With `accessToken`, only if that is still
   * the cached one (many callers that saw the same token rejected drop it once).
   */
  invalidate(accessToken?: string): void {
    if (accessToken === undefined || this.cached?.accessToken === accessToken) this.cached = undefined;
  }

  /**
   * fetch with the token: `Authorization: Bearer`, or with DPoP `Authorization: DPoP` and a proof (RFC
   * 9449 §7.1), through oauth4webapi's protectedResourceRequest. When the API answers 401 with a
   * challenge saying `error="invalid_token"` (RFC 6750 §3.1: expired, revoked, ...), the token is dropped
   * and the request is sent once more with a new one; a DPoP `use_dpop_nonce` challenge is answered once
   * with the API's nonce (RFC 9449 §9). Redirects are not followed.
   */
  async authorizedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const fetchImpl = this.options.fetch ?? this.options.client.fetch;
    const request = new Request(input, init);
    // The body can be read only once: every attempt sends this copy.
    const body = await readBody(request);
    const dpop = await clientCore(this.options.client).dpop?.handle();
    const first = await this.getToken();
    const answer = await resourceRequest(request, body, first, dpop, fetchImpl);
    if (!isInvalidToken(answer)) return answer.response;
    await answer.response.body?.cancel();
    this.invalidate(first.accessToken);
    return (await resourceRequest(request, body, await this.getToken(), dpop, fetchImpl)).response;
  }
}

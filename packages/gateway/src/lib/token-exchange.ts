import { TtlCache, tokenHash } from './ttl-cache.ts';

/** RFC 8693 §2.1 grant type and §3 token type. */
const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** Exchanged tokens kept at most; past it the oldest goes. */
const MAX_ENTRIES = 10_000;
/** An exchanged token is reused until this long before it expires, so it never expires on its way upstream. */
const EXPIRY_MARGIN_SECONDS = 5;
/** After the issuer's metadata could not be had, ask again no sooner than this. */
const DISCOVERY_RETRY_SECONDS = 5;

/**
 * Why the issuer would not exchange a token:
 * - `subject`: the caller's token was refused (invalid_request, RFC 8693 §2.2.2): answered 401;
 * - `scope`: the token lacks what the upstream needs (invalid_scope): answered 403;
 * - `gateway`: the gateway's client or policy is wrong (invalid_client, unauthorized_client,
 *   invalid_target, ...): answered 502, and logged, since only an operator can fix it.
 */
export class ExchangeRefusedError extends Error {
  constructor(
    readonly kind: 'subject' | 'scope' | 'gateway',
    readonly error: string,
    message: string,
  ) {
    super(message);
    this.name = 'ExchangeRefusedError';
  }
}

/** The issuer could not be reached or answered something unusable: 503. */
export class ExchangeUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExchangeUnavailableError';
  }
}

export interface TokenExchangerOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  timeoutSeconds: number;
  fetch?: typeof globalThis.fetch;
  /** Told of each lookup: whether the cache answered. */
  onLookup?: (hit: boolean) => void;
}

interface Entry {
  token: string;
  untilMs: number;
}

/**
 * RFC 8693 token exchange at the issuer's token endpoint, as the gateway's own client: the caller's
 * token (the subject token) for one scoped to an upstream. Results are cached by the SHA-256 of the
 * subject token, the audience and the scopes (never the token itself), never past their expiry; and
 * concurrent requests for the same key share one exchange.
 */
export class TokenExchanger {
  private readonly cache = new TtlCache<string>(MAX_ENTRIES);
  private readonly pending = new Map<string, Promise<Entry>>();
  private tokenEndpoint: string | undefined;
  private discovering: Promise<string> | undefined;
  private discoveryFailedAtMs = Number.NEGATIVE_INFINITY;
  private readonly fetch: typeof globalThis.fetch;

  constructor(private readonly options: TokenExchangerOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** A token for `audience` (with `scopes`, or what the issuer's policy allows when undefined). */
  async exchange(subjectToken: string, audience: string, scopes: readonly string[] | undefined): Promise<string> {
    const key = cacheKey(subjectToken, audience, scopes);
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.options.onLookup?.(true);
      return cached;
    }
    this.options.onLookup?.(false);
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.request(subjectToken, audience, scopes).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    const entry = await pending;
    this.cache.set(key, entry.token, entry.untilMs);
    return entry.token;
  }

  private async request(subjectToken: string, audience: string, scopes: readonly string[] | undefined): Promise<Entry> {
    const endpoint = await this.endpoint();
    // RFC 8693 §2.1: the request parameters; `audience` names the upstream by its resource identifier.
    const form = new URLSearchParams({
      grant_type: GRANT_TYPE,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      audience,
    });
    if (scopes !== undefined && scopes.length > 0) form.set('scope', scopes.join(' '));
    const sentAtMs = Date.now();
    let response: Response;
    let body: unknown;
    try {
      response = await this.fetch(endpoint, {
        method: 'POST',
        headers: {
          authorization: basicAuthorization(this.options.clientId, this.options.clientSecret),
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutSeconds * 1000),
      });
      body = await response.json().catch(() => undefined);
    } catch (cause) {
      throw new ExchangeUnavailableError(`token exchange at ${endpoint} failed: ${(cause as Error).message}`, { cause });
    }
    const json = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    if (response.status === 200) return entry(json, sentAtMs);
    // RFC 6749 §5.2 error response.
    const error = typeof json.error === 'string' ? json.error : undefined;
    if ((response.status === 400 || response.status === 401) && error !== undefined) {
      const description = typeof json.error_description === 'string' ? `: ${json.error_description}` : '';
      const kind = error === 'invalid_request' ? 'subject' : error === 'invalid_scope' ? 'scope' : 'gateway';
      throw new ExchangeRefusedError(kind, error, `the issuer refused the token exchange (${error}${description})`);
    }
    throw new ExchangeUnavailableError(`token exchange at ${endpoint} answered HTTP ${response.status}`);
  }

  /** The token endpoint from the issuer's RFC 8414 metadata, fetched once. */
  private endpoint(): Promise<string> {
    if (this.tokenEndpoint) return Promise.resolve(this.tokenEndpoint);
    if (Date.now() - this.discoveryFailedAtMs < DISCOVERY_RETRY_SECONDS * 1000) {
      return Promise.reject(new ExchangeUnavailableError('the issuer metadata is unavailable; retrying shortly'));
    }
    this.discovering ??= this.discover()
      .then((endpoint) => (this.tokenEndpoint = endpoint))
      .catch((err: unknown) => {
        this.discoveryFailedAtMs = Date.now();
        throw new ExchangeUnavailableError(`the issuer metadata is unavailable: ${(err as Error).message}`, { cause: err });
      })
      .finally(() => {
        this.discovering = undefined;
      });
    return this.discovering;
  }

  private async discover(): Promise<string> {
    const { issuer } = this.options;
    const url = new URL(issuer);
    const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
    // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    const where = `${url.origin}/.well-known/oauth-authorization-server${path}`;
    const response = await this.fetch(where, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(this.options.timeoutSeconds * 1000),
    });
    if (response.status !== 200) throw new Error(`${where} answered HTTP ${response.status}`);
    const metadata = (await response.json()) as Record<string, unknown>;
    // RFC 8414 §3.3: "the issuer value returned MUST be identical to the issuer identifier".
    if (metadata.issuer !== issuer) throw new Error(`${where} names another issuer`);
    const endpoint = metadata.token_endpoint;
    if (typeof endpoint !== 'string') throw new Error(`${where} has no token_endpoint`);
    const target = new URL(endpoint);
    // The client secret goes there: https, or http only where the issuer itself is http.
    if (target.protocol !== 'https:' && !(target.protocol === 'http:' && url.protocol === 'http:')) {
      throw new Error(`the token_endpoint ${endpoint} is not https`);
    }
    return endpoint;
  }
}

/** RFC 8693 §2.2.1 successful response: the token, checked, and until when it may be reused. */
function entry(json: Record<string, unknown>, sentAtMs: number): Entry {
  const token = json.access_token;
  if (typeof token !== 'string' || token === '') throw new ExchangeUnavailableError('the token exchange response has no access_token');
  if (typeof json.token_type !== 'string' || json.token_type.toLowerCase() !== 'bearer') {
    throw new ExchangeRefusedError('gateway', 'unsupported_token_type', 'the exchanged token is not a Bearer token');
  }
  if (json.issued_token_type !== undefined && json.issued_token_type !== ACCESS_TOKEN_TYPE) {
    throw new ExchangeRefusedError('gateway', 'unsupported_token_type', 'the issuer issued another kind of token than an access token');
  }
  // Without expires_in the lifetime is unknown: used for this request only.
  const expiresIn = typeof json.expires_in === 'number' && Number.isFinite(json.expires_in) ? json.expires_in : 0;
  // Counted from when the request was sent, so the entry never outlives the token.
  return { token, untilMs: sentAtMs + (expiresIn - EXPIRY_MARGIN_SECONDS) * 1000 };
}

function cacheKey(subjectToken: string, audience: string, scopes: readonly string[] | undefined): string {
  return JSON.stringify([tokenHash(subjectToken), audience, scopes === undefined ? null : [...scopes].sort()]);
}

/** RFC 6749 §2.3.1: id and secret form-urlencoded, then HTTP Basic. */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

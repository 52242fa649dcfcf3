import {
  DiscoveryError,
  LatchkeyClient,
  LatchkeyClientError,
  OAuthError,
  TOKEN_TYPES,
  UnsupportedFeatureError,
  type ExchangedToken,
} from '@latchkey/client';
import { TtlCache, tokenHash } from './ttl-cache.ts';

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
  readonly kind: 'subject' | 'scope' | 'gateway';
  readonly error: string;

  constructor(
    kind: 'subject' | 'scope' | 'gateway',
    error: string,
    message: string,
  ) {
    super(message);
    this.kind = kind;
    this.error = error;
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
  /** Accept an http issuer on a host other than loopback (the gateway's allowInsecureIssuer). */
  allowInsecureIssuer?: boolean;
  fetch?: typeof globalThis.fetch;
  /** Told of each lookup: whether the cache answered. */
  onLookup?: (hit: boolean) => void;
}

interface Entry {
  token: string;
  untilMs: number;
}

/**
 * RFC 8693 token exchange as the gateway's own client: the caller's token (the subject token) for one
 * scoped to an upstream. @latchkey/client does the protocol (discovery, client authentication, the
 * request and its checks); this keeps its results, cached by the SHA-256 of the subject token, the
 * audience and the scopes (never the token itself), never past their expiry, and lets concurrent
 * requests for the same key share one exchange.
 */
export class TokenExchanger {
  private readonly cache = new TtlCache<string>(MAX_ENTRIES);
  private readonly pending = new Map<string, Promise<Entry>>();
  private readonly client: LatchkeyClient;
  private discoveryFailedAtMs = Number.NEGATIVE_INFINITY;

  private readonly options: TokenExchangerOptions;

  constructor(options: TokenExchangerOptions) {
    this.options = options;
    this.client = new LatchkeyClient({
      issuer: options.issuer,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      requestTimeoutMs: options.timeoutSeconds * 1000,
      allowInsecureRequests: options.allowInsecureIssuer === true,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
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
    // An issuer whose metadata just failed is not asked again on every request.
    if (Date.now() - this.discoveryFailedAtMs < DISCOVERY_RETRY_SECONDS * 1000) {
      throw new ExchangeUnavailableError('the issuer metadata is unavailable; retrying shortly');
    }
    const sentAtMs = Date.now();
    let exchanged: ExchangedToken;
    try {
      // RFC 8693 §2.1: `audience` names the upstream by its resource identifier.
      exchanged = await this.client.exchangeToken({
        subjectToken,
        subjectTokenType: TOKEN_TYPES.accessToken,
        requestedTokenType: TOKEN_TYPES.accessToken,
        audience,
        ...(scopes !== undefined && scopes.length > 0 ? { scope: scopes.join(' ') } : {}),
      });
    } catch (err) {
      throw this.refusal(err);
    }
    return entry(exchanged, sentAtMs);
  }

  /** What an exchange that failed means for the caller (ExchangeRefusedError) or the gateway (unavailable). */
  private refusal(err: unknown): Error {
    // RFC 6749 §5.2 error response.
    if (err instanceof OAuthError && (err.status === 400 || err.status === 401)) {
      const description = err.error_description ? `: ${err.error_description}` : '';
      const kind = err.error === 'invalid_request' ? 'subject' : err.error === 'invalid_scope' ? 'scope' : 'gateway';
      return new ExchangeRefusedError(kind, err.error, `the issuer refused the token exchange (${err.error}${description})`);
    }
    if (err instanceof UnsupportedFeatureError) return new ExchangeRefusedError('gateway', 'unsupported_grant_type', err.message);
    if (err instanceof DiscoveryError) this.discoveryFailedAtMs = Date.now();
    const message = err instanceof LatchkeyClientError ? err.message : String(err);
    return new ExchangeUnavailableError(`token exchange at ${this.options.issuer} failed: ${message}`, { cause: err });
  }
}

/** RFC 8693 §2.2.1 successful response: the token, checked, and until when it may be reused. */
function entry(exchanged: ExchangedToken, sentAtMs: number): Entry {
  if (exchanged.tokenType.toLowerCase() !== 'bearer') {
    throw new ExchangeRefusedError('gateway', 'unsupported_token_type', 'the exchanged token is not a Bearer token');
  }
  if (exchanged.issuedTokenType !== TOKEN_TYPES.accessToken) {
    throw new ExchangeRefusedError('gateway', 'unsupported_token_type', 'the issuer issued another kind of token than an access token');
  }
  // Without expires_in the lifetime is unknown: used for this request only.
  const expiresIn = exchanged.expiresIn ?? 0;
  // Counted from when the request was sent, so the entry never outlives the token.
  return { token: exchanged.accessToken, untilMs: sentAtMs + (expiresIn - EXPIRY_MARGIN_SECONDS) * 1000 };
}

function cacheKey(subjectToken: string, audience: string, scopes: readonly string[] | undefined): string {
  return JSON.stringify([tokenHash(subjectToken), audience, scopes === undefined ? null : [...scopes].sort()]);
}

import type { AccessTokenClaims } from '@latchkey/resource-server';
import type { DpopMode, ForwardConfig } from './config/defaults.ts';
import { headerValue } from './lib/headers.ts';
import { challengeHeaders, rejection, type Rejection } from './lib/reply.ts';
import type { SigningKey } from './lib/signing-key.ts';
import { TtlCache, tokenHash } from './lib/ttl-cache.ts';
import { ExchangeRefusedError, ExchangeUnavailableError, type TokenExchanger } from './lib/token-exchange.ts';

/** What a forwarding mode adds to the upstream request, or why the request cannot go. */
export type Forwarding =
  | { ok: true; add: Record<string, string> }
  | { ok: false; rejection: Rejection };

/** How the caller presented its token: the scheme, and the DPoP proof with it (RFC 9449 §7). */
export interface Presentation {
  scheme: 'bearer' | 'dpop';
  /** The `DPoP` header as received; undefined without one. */
  proof: string | undefined;
}

export type Forwarder = (claims: AccessTokenClaims, token: string, presentation: Presentation) => Promise<Forwarding>;

/** The names of the identity headers under a prefix (`X-Auth-` gives `X-Auth-Subject`, ...). */
export function identityHeaderNames(prefix: string) {
  return {
    subject: `${prefix}Subject`,
    clientId: `${prefix}Client-Id`,
    scopes: `${prefix}Scopes`,
    token: `${prefix}Token`,
  };
}

export interface ForwarderContext {
  identityHeaderPrefix: string;
  realm: string;
  /** The route's metadata URL (RFC 9728 §5.1), named in its challenges; undefined: none. */
  resourceMetadata: string | undefined;
  /** The route's DPoP mode: which challenges its refusals carry. */
  dpop: DpopMode;
  /** The `iss` of the gateway's JWTs. */
  publicUrl: string | undefined;
  signingKey: SigningKey;
  tokenTtlSeconds: number;
  exchanger: TokenExchanger | undefined;
  /** Told of every refusal of the gateway's own exchange requests (operators must fix those). */
  onGatewayError: (err: Error) => void;
}

export function createForwarder(forward: ForwardConfig, ctx: ForwarderContext): Forwarder {
  switch (forward.mode) {
    case 'claims':
      return claimsForwarder(forward.audience, ctx);
    case 'exchange':
      return exchangeForwarder(forward.audience, forward.scopes, ctx);
    case 'passthrough':
      // Exactly the token that was checked, whatever else the client sent, under the scheme it came
      // with: a DPoP-bound token is never turned into a bearer one (RFC 9449 §7.2). Its proof goes
      // along only when the route says so (the upstream then checks it against the gateway's URL).
      return async (_claims, token, presentation) => {
        if (presentation.scheme === 'bearer') return { ok: true, add: { authorization: `Bearer ${token}` } };
        const add: Record<string, string> = { authorization: `DPoP ${token}` };
        if (forward.dpopProof && presentation.proof !== undefined) add.dpop = presentation.proof;
        return { ok: true, add };
      };
  }
}

/** Gateway JWTs kept per route, at most; past it the oldest goes. */
const MAX_SIGNED = 10_000;

/**
 * Claims mode: the caller's token stops here. The upstream gets the verified claims as headers, and a
 * short-lived JWT the gateway signs for that upstream alone (its `aud`), which the upstream verifies
 * against the gateway's JWKS; the headers are a convenience, the JWT is the proof.
 *
 * The JWT never outlives the caller's token. Signing is the gateway's dearest step, so a JWT is reused
 * for the same caller's token (same claims) during the first half of its life: an upstream always
 * gets one with at least half its lifetime left.
 */
function claimsForwarder(audience: string, ctx: ForwarderContext): Forwarder {
  const names = identityHeaderNames(ctx.identityHeaderPrefix);
  const signed = new TtlCache<string>(MAX_SIGNED);
  return async (claims, token) => {
    const scope = claims.scope.join(' ');
    const key = tokenHash(token);
    let jwt = signed.get(key);
    if (jwt === undefined) {
      const now = Math.floor(Date.now() / 1000);
      const expiresAt = Math.max(now + 1, Math.min(now + ctx.tokenTtlSeconds, claims.exp));
      jwt = await ctx.signingKey.sign(ctx.publicUrl!, audience, { sub: claims.sub, client_id: claims.client_id, scope }, now, expiresAt);
      signed.set(key, jwt, (now + (expiresAt - now) / 2) * 1000);
    }
    return {
      ok: true,
      add: {
        [names.subject]: headerValue(claims.sub),
        [names.clientId]: headerValue(claims.client_id),
        [names.scopes]: headerValue(scope),
        [names.token]: jwt,
      },
    };
  };
}

/**
 * Exchange mode: the upstream gets a token of its own (RFC 8693), with its audience and at most the
 * configured scopes, as `Authorization: Bearer`; the caller's token never reaches it.
 */
function exchangeForwarder(audience: string, scopes: string[] | undefined, ctx: ForwarderContext): Forwarder {
  return async (_claims, token, presentation) => {
    let exchanged: string;
    try {
      exchanged = await ctx.exchanger!.exchange(token, audience, scopes);
    } catch (err) {
      return { ok: false, rejection: exchangeRejection(err, scopes, ctx, presentation.scheme) };
    }
    return { ok: true, add: { authorization: `Bearer ${exchanged}` } };
  };
}

function exchangeRejection(err: unknown, scopes: string[] | undefined, ctx: ForwarderContext, scheme: Presentation['scheme']): Rejection {
  if (err instanceof ExchangeRefusedError && err.kind === 'subject') {
    const description = 'the issuer refused to exchange the access token';
    return rejection(401, 'denied', 'invalid_token', description, {
      headers: challengeHeaders(ctx, 'invalid_token', description, undefined, scheme),
      reason: 'exchange_refused',
    });
  }
  if (err instanceof ExchangeRefusedError && err.kind === 'scope') {
    const description = 'the access token lacks a scope this resource requires';
    return rejection(403, 'denied', 'insufficient_scope', description, {
      headers: challengeHeaders(ctx, 'insufficient_scope', description, scopes, scheme),
      reason: 'insufficient_scope',
    });
  }
  if (err instanceof ExchangeUnavailableError) {
    return rejection(503, 'unavailable', 'temporarily_unavailable', 'token exchange is unavailable; try again later', {
      headers: { 'retry-after': '5' },
      reason: 'exchange_unavailable',
    });
  }
  if (err instanceof ExchangeRefusedError) ctx.onGatewayError(err);
  else throw err;
  return rejection(502, 'upstream_error', 'bad_gateway', 'the gateway could not obtain a token for the upstream', { reason: 'exchange_misconfigured' });
}

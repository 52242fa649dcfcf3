import { InvalidRequest, InvalidScope, InvalidTarget, UnauthorizedClient } from '../errors.ts';
import type { FormParams } from '../lib/form-params.ts';
import type { AccessTokenFormat, ActClaim, Client, TokenExchangePolicy } from '../registry/types.ts';
import { issueAccessToken, type AccessTokenClaims } from '../tokens/access-token.ts';
import { confirmationOf, tokenTypeOf } from '../tokens/confirmation.ts';
import { findOwnAccessToken, type OwnTokenDeps } from '../tokens/find-own-token.ts';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from '../registry/grant-types.ts';
import type { GrantDeps, GrantHandler } from './grant.ts';

/** An exchange: the policies, the presented tokens, the grants and users behind them, the keys. */
type ExchangeDeps = OwnTokenDeps & GrantDeps<'tokenExchange' | 'grants' | 'users' | 'opaqueTokens' | 'revocations', 'keys'>;
import { parseScope } from './select-audience.ts';

/** Actors of a delegation chain (RFC 8693 §4.1, nested `act`) one token may carry at most. */
const MAX_DELEGATION_DEPTH = 5;

/**
 * RFC 8693 token exchange: a service trades an access token it received (the subject token) for one
 * for another API, keeping the subject's `sub` and recording itself (or the actor token's subject) as
 * the actor in `act`. Allowed only by the client's token exchange policy (docs/security.md H57-H60): the new
 * token's audience must be one the policy names, and its scopes are within both the policy's and the
 * subject token's. It never outlives the subject token and, when that token was issued under a user's
 * grant, is revoked with the grant.
 */
export const tokenExchangeGrant: GrantHandler<ExchangeDeps> = {
  grantType: TOKEN_EXCHANGE_GRANT_TYPE,
  async handle(ctx, client, params, sender) {
    checkClient(client);
    const request = parseRequest(params);
    const policies = await ctx.storage.tokenExchange.policiesFor(client.clientId);
    // docs/security.md H57 (Keycloak CVE-2022-1245): no policy, no exchange.
    if (policies.length === 0) throw new UnauthorizedClient('the client has no token exchange policy');

    const subject = await validSubjectToken(ctx, client, request.subjectToken);
    const actor = request.actorToken === undefined ? client.clientId : await validActor(ctx, client, request.actorToken);
    checkMayAct(subject, actor);
    const act = delegation(subject, actor);
    const target = selectTarget(policies, request.targets, request.scope, splitScope(subject.scope));

    const grantId = await ctx.storage.tokenExchange.grantOfAccessToken(subject.jti);
    if (grantId !== undefined) await checkGrantUser(ctx, grantId);
    const now = ctx.now();
    // An exchanged token never outlives its subject token, so a chain of exchanges cannot extend it.
    const ttlSeconds = Math.min(target.ttlOverrideSeconds ?? ctx.settings.accessTokenTtlSeconds, subject.exp - now);
    if (ttlSeconds <= 0) throw unacceptable('the subject token is invalid, expired or revoked', 'expired meanwhile');
    // The issued token is bound to the exchanging client's own DPoP key when it sent a proof (RFC
    // 9449 §5: the token endpoint binds every access token it issues with a proof). A bound subject
    // token is accepted without its holder's proof: the service received it with a proof it checked.
    const cnf = confirmationOf(sender);
    const issued = await issueAccessToken(ctx.keys, ctx.storage.opaqueTokens, {
      format: target.format,
      issuer: ctx.settings.issuer,
      // RFC 8693 §1.1: delegation keeps the subject; the actor is named in `act`.
      subject: subject.sub,
      clientId: client.clientId,
      audience: target.audience,
      scope: target.scope,
      ttlSeconds,
      act,
      ...(cnf ? { cnf } : {}),
    });
    if (grantId !== undefined) {
      const live = await ctx.storage.grants.recordAccessToken(grantId, { jti: issued.jti, clientId: client.clientId, expiresAt: issued.expiresAt });
      if (!live) {
        // The grant was revoked while this token was issued: revoke again, which now includes it.
        await ctx.storage.grants.revokeGrant(grantId, now);
        throw unacceptable('the subject token is invalid, expired or revoked', 'grant revoked meanwhile');
      }
    }
    // RFC 8693 §2.2.1: `issued_token_type` is REQUIRED. No refresh token: the service exchanges again.
    return {
      access_token: issued.token,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: tokenTypeOf(cnf),
      expires_in: issued.expiresIn,
      scope: target.scope.join(' '),
    };
  },
};

function checkClient(client: Client): void {
  // RFC 8693 §2.1: "omitting client authentication allows for a compromised token to be leaked via an
  // STS to other parties." docs/security.md H57: token exchange requires client authentication.
  if (client.type !== 'confidential') throw new UnauthorizedClient('public clients cannot exchange tokens');
  if (!client.grantTypes.includes(TOKEN_EXCHANGE_GRANT_TYPE)) {
    throw new UnauthorizedClient('the client is not allowed the token-exchange grant');
  }
}

interface ExchangeRequest {
  subjectToken: string;
  actorToken: string | undefined;
  /** `resource` and `audience` values together: both name APIs by their resource identifier here. */
  targets: string[];
  scope: string[] | undefined;
}

/** RFC 8693 §2.1 request parameters; anything malformed is invalid_request (§2.2.2). */
function parseRequest(params: FormParams): ExchangeRequest {
  const subjectToken = params.require('subject_token');
  // RFC 8693 §2.1: subject_token_type is REQUIRED; Latchkey only knows its own access tokens.
  const subjectTokenType = params.require('subject_token_type');
  if (subjectTokenType !== ACCESS_TOKEN_TYPE) throw new InvalidRequest('subject_token_type must be urn:ietf:params:oauth:token-type:access_token');
  const actorToken = params.get('actor_token');
  const actorTokenType = params.get('actor_token_type');
  // RFC 8693 §2.1: actor_token_type "is REQUIRED when the actor_token parameter is present in the
  // request but MUST NOT be included otherwise."
  if (actorToken !== undefined && actorTokenType === undefined) throw new InvalidRequest('actor_token_type is required with actor_token');
  if (actorToken === undefined && actorTokenType !== undefined) throw new InvalidRequest('actor_token_type must not be sent without actor_token');
  if (actorTokenType !== undefined && actorTokenType !== ACCESS_TOKEN_TYPE) {
    throw new InvalidRequest('actor_token_type must be urn:ietf:params:oauth:token-type:access_token');
  }
  const requested = params.get('requested_token_type');
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
    throw new InvalidRequest('only access tokens can be requested (urn:ietf:params:oauth:token-type:access_token)');
  }
  return {
    subjectToken,
    actorToken,
    targets: [...new Set([...params.getAll('resource'), ...params.getAll('audience')])],
    scope: parseScope(params.get('scope')),
  };
}

/**
 * RFC 8693 §2.2.2: "If ... either the subject_token or actor_token are invalid for any reason, or are
 * unacceptable based on policy, ... The value of the error parameter MUST be the invalid_request error
 * code." Every refusal of a presented token goes through here.
 */
function unacceptable(description: string, detail?: string): InvalidRequest {
  return new InvalidRequest(description, detail);
}

/**
 * The subject token must be a valid Latchkey access token (our signature and header, exact issuer,
 * unexpired, unrevoked; tokens/find-own-token.ts), and one this client legitimately holds: issued to
 * it, or issued for an API it acts for (`--introspect-for`). Otherwise any client with a policy could
 * turn any token it came across into one for its targets.
 */
async function validSubjectToken(ctx: ExchangeDeps, client: Client, token: string): Promise<AccessTokenClaims> {
  const found = await findOwnAccessToken(ctx, token);
  if (!found) throw unacceptable('the subject token is invalid, expired or revoked');
  const { claims } = found;
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.client_id !== client.clientId && !audience.some((a) => client.introspectsFor.includes(a))) {
    throw unacceptable('the subject token was not issued to this client or for an API it acts for');
  }
  return claims;
}

/** The actor named by an actor token: its `sub`. The token must have been issued to this client. */
async function validActor(ctx: ExchangeDeps, client: Client, token: string): Promise<string> {
  const found = await findOwnAccessToken(ctx, token);
  if (!found) throw unacceptable('the actor token is invalid, expired or revoked');
  if (found.claims.client_id !== client.clientId) throw unacceptable('the actor token was not issued to this client');
  // The actor token proves the acting party's own identity (its sub authenticated to this client:
  // the client itself, or a person signed in to it). A delegated token (one with `act`) proves no
  // one's identity: accepting it would let a client name as actor a party that never took part.
  if ('act' in found.claims) throw unacceptable('the actor token is itself a delegated token');
  return found.claims.sub;
}

/**
 * RFC 8693 §4.4: `may_act` in the subject token names the party allowed to act for the subject; any
 * other actor is refused. A `may_act` this server cannot read allows no one.
 */
function checkMayAct(subject: AccessTokenClaims, actor: string): void {
  if (!('may_act' in subject)) return;
  const mayAct = subject.may_act as unknown;
  const allowed = typeof mayAct === 'object' && mayAct !== null && (mayAct as { sub?: unknown }).sub;
  if (allowed !== actor) throw unacceptable('the subject token does not allow this actor (may_act)');
}

/** RFC 8693 §4.1: the new actor, with the subject token's own `act` (prior actors) nested inside. */
function delegation(subject: AccessTokenClaims, actor: string): ActClaim {
  const prior = subject.act;
  let depth = 0;
  for (let a: unknown = prior; typeof a === 'object' && a !== null; a = (a as { act?: unknown }).act) depth++;
  if (depth >= MAX_DELEGATION_DEPTH) throw unacceptable('the delegation chain of the subject token is too long');
  return prior ? { sub: actor, act: prior } : { sub: actor };
}

interface ExchangeTarget {
  audience: string[];
  scope: string[];
  format: AccessTokenFormat;
  ttlOverrideSeconds: number | null;
}

/**
 * The audience and scopes of the new token, within the policy and the subject token:
 * - `resource`/`audience` given: those APIs, each of which the policy must name (else invalid_target,
 *   RFC 8693 §2.2.2);
 * - only `scope` given: the APIs the policy allows those scopes on;
 * - neither: the policy's only API; a policy with several needs a choice.
 * Requested scopes must be allowed by the policy on the targets and carried by the subject token (else
 * invalid_scope); without `scope`, the scopes both allow, which must not be none.
 */
export function selectTarget(
  policies: readonly TokenExchangePolicy[],
  targets: readonly string[],
  requested: string[] | undefined,
  subjectScopes: ReadonlySet<string>,
): ExchangeTarget {
  const byAudience = new Map(policies.map((p) => [p.audience, p]));
  for (const target of targets) {
    if (!byAudience.has(target)) throw new InvalidTarget('the client may not exchange tokens for this audience', target.slice(0, 200));
  }
  const scopeOwner = new Map(policies.flatMap((p) => p.scopes.map((s) => [s, p.audience] as const)));
  let audience: string[];
  if (targets.length > 0) {
    audience = [...targets];
  } else if (requested !== undefined) {
    for (const s of requested) {
      if (!scopeOwner.has(s)) throw new InvalidScope('a requested scope is not allowed to this client by its token exchange policy', s.slice(0, 200));
    }
    audience = [...new Set(requested.map((s) => scopeOwner.get(s)!))];
  } else {
    if (policies.length !== 1) throw new InvalidTarget('the client may exchange for several audiences: name one with resource or audience');
    audience = [policies[0]!.audience];
  }

  const allowed = audience.flatMap((a) => byAudience.get(a)!.scopes);
  let scope: string[];
  if (requested !== undefined) {
    for (const s of requested) {
      if (!allowed.includes(s)) throw new InvalidScope('a requested scope is not allowed to this client for the target by its token exchange policy', s.slice(0, 200));
      // docs/security.md H60: the scope never exceeds the subject token's.
      if (!subjectScopes.has(s)) throw new InvalidScope('a requested scope is not in the subject token', s.slice(0, 200));
    }
    scope = requested;
  } else {
    scope = allowed.filter((s) => subjectScopes.has(s));
    if (scope.length === 0) throw new InvalidScope('the subject token carries none of the scopes the client may obtain for the target');
  }
  // RFC 8693 §2.2.2: unable to issue a token for a target service: invalid_target. A target none of
  // the scopes belong to would be an audience the token can do nothing at.
  for (const a of audience) {
    if (!scope.some((s) => scopeOwner.get(s) === a)) throw new InvalidTarget('the token would carry no scope for one of the requested audiences', a.slice(0, 200));
  }

  const formats = new Set(audience.map((a) => byAudience.get(a)!.accessTokenFormat));
  // One token cannot be both self-contained (JWT) and a reference (opaque).
  if (formats.size > 1) throw new InvalidTarget('the requested audiences take different token formats: exchange for them separately');
  const overrides = audience.map((a) => byAudience.get(a)!.accessTokenTtlSeconds).filter((t): t is number => t !== null);
  return {
    audience,
    scope,
    format: formats.has('opaque') ? 'opaque' : 'jwt',
    ttlOverrideSeconds: overrides.length > 0 ? Math.min(...overrides) : null,
  };
}

function splitScope(scope: string | undefined): Set<string> {
  return new Set((scope ?? '').split(' ').filter((s) => s !== ''));
}

/** A token of a user's grant: the user must still be active (as for a refresh, docs/security.md F48). */
async function checkGrantUser(ctx: ExchangeDeps, grantId: string): Promise<void> {
  const grant = await ctx.storage.grants.findGrant(grantId);
  if (!grant || grant.revokedAt !== null) throw unacceptable('the subject token is invalid, expired or revoked', 'grant revoked');
  const user = await ctx.storage.users.findById(grant.userId);
  if (!user || user.disabledAt !== null) throw unacceptable('the subject token is invalid, expired or revoked', 'user disabled');
}

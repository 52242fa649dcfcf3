import type { Kysely } from 'kysely';
import type { Settings } from '../config/defaults.ts';
import { PATHS } from '../config/paths.ts';
import { refreshGraceSeconds } from '../grants/refresh-grace.ts';
import { DEVICE_CODE_GRANT } from '../registry/grant-types.ts';
import type { Client } from '../registry/types.ts';
import type { Database } from '../storage/schema.ts';
import { isLoopbackHost } from './deployment.ts';
import { DAY_SECONDS, shellWord, type Finding } from './finding.ts';

/** What the database says about one client's use: the scopes users consented to or were granted, live grants and families. */
export interface ClientUse {
  /** Every scope that a consent or a grant (revoked ones too) of the client ever held. */
  grantedScopes: Set<string>;
  /** Grants not revoked. */
  liveGrants: number;
  /** Current refresh tokens (one per live family) not expired, of grants not revoked. */
  liveRefreshTokens: number;
}

/** Reads every client's use in three queries (consents, grants, current refresh tokens). */
export async function clientUse(db: Kysely<Database>, now: number): Promise<Map<string, ClientUse>> {
  const uses = new Map<string, ClientUse>();
  const use = (clientId: string) => {
    let u = uses.get(clientId);
    if (!u) uses.set(clientId, (u = { grantedScopes: new Set(), liveGrants: 0, liveRefreshTokens: 0 }));
    return u;
  };
  const words = (scope: string) => scope.split(' ').filter((s) => s !== '');
  for (const row of await db.selectFrom('consents').select(['client_id', 'scope']).execute()) {
    for (const s of words(row.scope)) use(row.client_id).grantedScopes.add(s);
  }
  for (const row of await db.selectFrom('grants').select(['client_id', 'scope', 'revoked_at']).execute()) {
    const u = use(row.client_id);
    for (const s of words(row.scope)) u.grantedScopes.add(s);
    if (row.revoked_at === null) u.liveGrants += 1;
  }
  const families = await db
    .selectFrom('refresh_tokens')
    .innerJoin('grants', 'grants.id', 'refresh_tokens.grant_id')
    .select((eb) => ['grants.client_id', eb.fn.countAll().as('n')])
    .where('refresh_tokens.consumed_at', 'is', null)
    .where('refresh_tokens.expires_at', '>', now)
    .where('grants.revoked_at', 'is', null)
    .groupBy('grants.client_id')
    .execute();
  for (const row of families) use(row.client_id).liveRefreshTokens = Number(row.n);
  return uses;
}

/** The grants that have a user behind them, and so consents. */
const USER_GRANTS = ['authorization_code', DEVICE_CODE_GRANT];

const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post']);
/** A shared secret older than this is flagged. */
const SECRET_MAX_AGE_DAYS = 365;

/** Every scope the client may ask for: OpenID Connect's and its APIs'. */
export function clientScopes(client: Client): string[] {
  return [...client.oidcScopes, ...client.scopes.map((s) => s.scope)];
}

/**
 * A `latchkey clients create` line registering the client again with `changes`, and the deletion of
 * the old one once the application uses the new client id (ids are never reused; `clients update`
 * cannot change these fields). A self-registered client changes its own registration instead.
 */
export function replacementCommand(client: Client, changes: { scopes?: string[]; redirectUris?: string[]; authMethod?: string }, issuer: string): string {
  if (client.source === 'dynamic-registration') {
    return `the client updates its own registration (RFC 7592: PUT ${issuer}/register/${client.clientId} with its registration access token)`;
  }
  if (client.source === 'metadata-document') return `the client changes its metadata document at ${client.clientId}`;
  const option = (name: string, values: readonly string[]) => (values.length ? ` --${name} ${shellWord(values.join(','))}` : '');
  const method = changes.authMethod ?? client.tokenEndpointAuthMethod;
  let line =
    `latchkey clients create --name ${shellWord(client.name)} --type ${client.type}` +
    option('grant-types', client.grantTypes) +
    option('scopes', changes.scopes ?? clientScopes(client)) +
    option('audiences', client.audiences.map((a) => a.identifier)) +
    option('redirect-uris', changes.redirectUris ?? client.redirectUris) +
    option('post-logout-redirect-uris', client.postLogoutRedirectUris) +
    option('introspect-for', client.introspectsFor) +
    (client.firstParty ? ' --first-party' : '') +
    (client.type === 'confidential' && method !== 'client_secret_basic' ? ` --auth-method ${method}` : '');
  if (method === 'private_key_jwt') line += client.jwksUri && !changes.authMethod ? ` --jwks-uri ${shellWord(client.jwksUri)}` : ' --jwks-uri https://<your-app>/jwks.json';
  if (client.refreshGraceSeconds !== null) line += ` --refresh-grace-seconds ${client.refreshGraceSeconds}`;
  if (client.dpopBoundAccessTokens) line += ' --dpop-bound';
  if (client.requirePushedAuthorizationRequests) line += ' --require-par';
  if (client.profile !== 'default') line += ` --profile ${client.profile}`;
  if (client.backchannelLogoutUri) line += ` --backchannel-logout-uri ${shellWord(client.backchannelLogoutUri)}`;
  if (client.backchannelLogoutUri && client.backchannelLogoutSessionRequired) line += ' --backchannel-logout-session-required';
  return `${line}; once the application uses the new client_id: latchkey clients delete ${shellWord(client.clientId)}`;
}

/** The weaknesses of one client's registration. */
export function clientFindings(client: Client, use: ClientUse | undefined, settings: Settings, now: number): Finding[] {
  const findings: Finding[] = [];
  const subject = client.clientId;
  const secretBased = client.type === 'confidential' && SECRET_METHODS.has(client.tokenEndpointAuthMethod);
  if (secretBased) {
    // RFC 9700 §2.5: "It is RECOMMENDED to use asymmetric (public-key based) methods for client
    // authentication such as mTLS [RFC8705] or signed JWTs ("Private Key JWT")".
    findings.push({
      id: 'client.shared-secret',
      severity: 'low',
      title: 'a confidential client authenticates with a shared secret',
      detail: `${client.clientId} uses ${client.tokenEndpointAuthMethod}: the server and the client both hold the secret, and it travels with every token request; private_key_jwt keeps the private key on the client only`,
      rfc: 'RFC 9700 §2.5; RFC 7523 §2.2',
      fix: replacementCommand(client, { authMethod: 'private_key_jwt' }, settings.issuer),
      subject,
    });
    const setAt = client.secretRotatedAt ?? client.createdAt;
    const ageDays = Math.floor((now - setAt) / DAY_SECONDS);
    if (ageDays > SECRET_MAX_AGE_DAYS) {
      findings.push({
        id: 'client.secret-age',
        severity: 'low',
        title: `the client secret is ${ageDays} days old`,
        detail: `${client.clientId}'s secret was set ${new Date(setAt * 1000).toISOString()} and never rotated since`,
        rfc: 'RFC 6819 §5.2.3.6',
        fix: `latchkey clients rotate-secret ${shellWord(client.clientId)}`,
        subject,
      });
    }
  }
  const loopback = client.redirectUris.filter((uri) => {
    try {
      return isLoopbackHost(new URL(uri).hostname);
    } catch {
      return false;
    }
  });
  if (client.type === 'confidential' && loopback.length > 0) {
    // RFC 9700 §2.6: authorization servers "MUST NOT allow redirect URIs that use the "http" scheme
    // except for native clients that use Loopback Interface Redirection as described in Section 7.3 of [RFC8252]".
    const rest = client.redirectUris.filter((uri) => !loopback.includes(uri));
    findings.push({
      id: 'client.loopback-redirect',
      severity: 'medium',
      title: 'a web (confidential) client has a loopback redirect URI',
      detail: `${client.clientId} may receive codes at ${loopback.join(', ')}: on the user's machine, where any local program can listen on that port (loopback redirects are for native apps)`,
      rfc: 'RFC 9700 §2.6; RFC 8252 §8.3',
      fix: replacementCommand(client, { redirectUris: rest.length ? rest : ['https://<your-app>/callback'] }, settings.issuer),
      subject,
    });
  }
  if (client.type === 'public' && client.grantTypes.includes('refresh_token') && refreshGraceSeconds(client, settings) > 0) {
    // RFC 9700 §4.14.2: with rotation, "if a refresh token is compromised and subsequently used by both
    // the attacker and the legitimate client, one of them will present an invalidated refresh token".
    findings.push({
      id: 'client.public-refresh-grace',
      severity: 'medium',
      title: 'a public client has a refresh grace window',
      detail: `${client.clientId} has refresh_grace_seconds ${client.refreshGraceSeconds}: for that long a replay of its just-rotated refresh token, by anyone (it has no secret), gets the new pair instead of revoking the family`,
      rfc: 'RFC 9700 §4.14.2; RFC 9700 §2.2.2',
      fix: `latchkey clients update ${shellWord(client.clientId)} --refresh-grace-seconds default`,
      subject,
    });
  }
  if (client.grantTypes.some((g) => USER_GRANTS.includes(g)) && use && use.grantedScopes.size > 0) {
    const never = clientScopes(client).filter((s) => !use.grantedScopes.has(s));
    if (never.length > 0) {
      // RFC 9700 §2.3: "the privileges associated with an access token SHOULD be restricted to the
      // minimum required for the particular application or use case".
      const kept = clientScopes(client).filter((s) => use.grantedScopes.has(s));
      findings.push({
        id: 'client.scopes-never-granted',
        severity: 'low',
        title: 'a client holds scopes no user ever granted it',
        detail: `${client.clientId} may ask for ${never.join(' ')}, but no consent or grant ever included ${never.length === 1 ? 'it' : 'them'}`,
        rfc: 'RFC 9700 §2.3',
        fix: replacementCommand(client, { scopes: kept }, settings.issuer),
        subject,
      });
    }
  }
  return findings;
}

/** The four questions of every OAuth design, answered for one client. */
export interface ClientSummary {
  client_id: string;
  name: string;
  type: Client['type'];
  source: Client['source'];
  auth_method: Client['tokenEndpointAuthMethod'];
  /** Which grants it uses. */
  grant_types: string[];
  /** Which scopes it holds. */
  scopes: string[];
  /** Where its refresh tokens live; null when it gets none. */
  refresh_tokens: {
    where: string;
    rotation: string;
    reuse: string;
    bound_to: string;
    grace_seconds: number;
    family_lifetime_seconds: number;
    live: number;
  } | null;
  live_grants: number;
  /** How they are revoked. */
  revocation: string[];
}

export function clientSummary(client: Client, use: ClientUse | undefined, settings: Settings): ClientSummary {
  const userGrants = client.grantTypes.some((g) => USER_GRANTS.includes(g));
  const refresh = client.grantTypes.includes('refresh_token');
  const boundTo = client.tlsClientCertificateBoundAccessTokens
    ? "the client's TLS certificate (RFC 8705)"
    : client.dpopBoundAccessTokens
      ? "the client's DPoP key (RFC 9449: every request carries a proof)"
      : client.type === 'confidential'
        ? "the client's authentication: a refresh needs its credentials"
        : 'the DPoP key when the client used DPoP; otherwise rotation alone protects them (RFC 9700 §2.2.2)';
  const revocation = [
    `the client: POST ${settings.issuer}/revoke with a refresh or access token (RFC 7009)`,
    ...(userGrants ? [`the user: ${settings.issuer}${PATHS.account} (remove the application)`, 'an operator, for one user: latchkey users revoke USERNAME'] : []),
    `an operator, every grant of the client: latchkey clients delete ${shellWord(client.clientId)}`,
    ...(client.type === 'confidential' && SECRET_METHODS.has(client.tokenEndpointAuthMethod) ? [`no new tokens without the new secret: latchkey clients rotate-secret ${shellWord(client.clientId)}`] : []),
  ];
  return {
    client_id: client.clientId,
    name: client.name,
    type: client.type,
    source: client.source,
    auth_method: client.tokenEndpointAuthMethod,
    grant_types: client.grantTypes,
    scopes: clientScopes(client),
    refresh_tokens: refresh
      ? {
          where: 'in the database (refresh_tokens): only the SHA-256 hash of the current token of each family',
          rotation: 'rotated on every use',
          reuse: 'a rotated token presented again revokes the whole family, its access tokens included',
          bound_to: boundTo,
          grace_seconds: refreshGraceSeconds(client, settings),
          family_lifetime_seconds: settings.refreshTokenTtlSeconds,
          live: use?.liveRefreshTokens ?? 0,
        }
      : null,
    live_grants: use?.liveGrants ?? 0,
    revocation,
  };
}

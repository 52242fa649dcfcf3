import { mac, macMatches } from '../lib/mac.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import type { Confirmation } from '../tokens/confirmation.ts';
import type { GrantDeps } from './grant.ts';
import type { Authentication } from '../users/authentication-context.ts';

/** Prefix of refresh tokens that name their family: tells them apart, and helps secret scanners. */
const PREFIX = 'lkr_';
const LABEL = 'refresh-token-family';
/** 128 bits of tag. */
const TAG_BYTES = 16;
const SHAPE = /^lkr_([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$/;

/**
 * A new refresh token of the family `grantId`: 256 random bits (RFC 6749 §10.10), the family id, and
 * a MAC over both under the server's key. The server keeps only the token's hash while it is current;
 * once rotated and past its grace window, its row goes, and a replay is still recognised as reuse of
 * that family (RFC 9700 §4.14.2) by the MAC, which no one without the server's key can forge. So a
 * family costs a constant amount of storage, however often it rotates.
 */
export function newRefreshToken(macKey: Buffer, grantId: string): string {
  const random = randomToken(32);
  return `${PREFIX}${grantId}.${random}.${mac(macKey, LABEL, `${grantId}.${random}`, TAG_BYTES)}`;
}

/** The family (grant id) of a refresh token this server made, or undefined for anything else. */
export function refreshTokenFamily(macKey: Buffer, token: string): string | undefined {
  const match = SHAPE.exec(token);
  if (!match) return undefined;
  const [, grantId, random, tag] = match as unknown as [string, string, string, string];
  return macMatches(macKey, LABEL, `${grantId}.${random}`, tag, TAG_BYTES) ? grantId : undefined;
}

/** Whether the token has the form of one that names its family, so its row may be forgotten (its MAC is checked where it matters). */
export function namesItsFamily(token: string): boolean {
  return SHAPE.test(token);
}

/**
 * The first refresh token of a grant (authorization code or device flow): its family ends
 * `refreshTokenTtlSeconds` from now, whatever happens. `cnf`: the key (or certificate) a public
 * client's family is bound to, for every rotation (RFC 9449 §5, RFC 8705 §4).
 */
export async function startRefreshFamily(
  ctx: GrantDeps<'refreshTokens', 'macKey'>,
  grantId: string,
  scope: string,
  authentication: Authentication,
  now: number,
  cnf?: Confirmation,
): Promise<string> {
  const token = newRefreshToken(ctx.macKey, grantId);
  await ctx.storage.refreshTokens.insert({
    tokenHash: sha256(token),
    grantId,
    scope,
    authTime: authentication.time,
    amr: authentication.methods,
    createdAt: now,
    expiresAt: now + ctx.settings.refreshTokenTtlSeconds,
    ...(cnf ? { cnf } : {}),
  });
  return token;
}

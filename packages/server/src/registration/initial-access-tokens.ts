import { RegistryError } from '../errors.ts';
import { randomIdentifier, randomToken, sha256 } from '../lib/random.ts';
import type { InitialAccessToken } from '../storage/initial-access-token-store.ts';
import type { Storage } from '../storage/storage.ts';

/**
 * Initial access tokens (RFC 7591 §3: "an OAuth 2.0 access token ... used to limit registration to
 * only authorized clients"), minted by the operator (`latchkey registration tokens create`) when
 * LATCHKEY_REGISTRATION=initial-access-token. The value is shown once and stored as its SHA-256 hash.
 * One implementation for the CLI and any later admin interface.
 */

export interface CreateInitialAccessTokenInput {
  /** What the token is for, shown by `list` (at most 200 characters). */
  description?: string;
  /** Seconds until the token stops working; omitted: it does not expire. */
  expiresInSeconds?: number;
  /** Registrations it allows (1 = single use); omitted: any number. */
  maxUses?: number;
}

/** Longest lifetime of an initial access token: a year. */
const MAX_LIFETIME_SECONDS = 366 * 24 * 3600;

export async function createInitialAccessToken(
  storage: Storage,
  input: CreateInitialAccessTokenInput,
  now: number,
): Promise<{ token: InitialAccessToken; value: string }> {
  const description = (input.description ?? '').trim();
  if (description.length > 200) throw new RegistryError('the description must be at most 200 characters', 'invalid');
  const expires = input.expiresInSeconds;
  if (expires !== undefined && (!Number.isInteger(expires) || expires < 1 || expires > MAX_LIFETIME_SECONDS)) {
    throw new RegistryError(`the lifetime must be between 1 and ${MAX_LIFETIME_SECONDS} seconds`, 'invalid');
  }
  const maxUses = input.maxUses;
  if (maxUses !== undefined && (!Number.isInteger(maxUses) || maxUses < 1 || maxUses > 1_000_000)) {
    throw new RegistryError('the number of uses must be between 1 and 1000000', 'invalid');
  }
  const value = randomToken(32);
  const token: InitialAccessToken = {
    id: randomIdentifier(9),
    description,
    createdAt: now,
    expiresAt: expires === undefined ? null : now + expires,
    maxUses: maxUses ?? null,
    uses: 0,
    lastUsedAt: null,
    revokedAt: null,
  };
  await storage.initialAccessTokens.create(token, sha256(value));
  return { token, value };
}

export function listInitialAccessTokens(storage: Storage): Promise<InitialAccessToken[]> {
  return storage.initialAccessTokens.list();
}

export async function revokeInitialAccessToken(storage: Storage, id: string, now: number): Promise<void> {
  if (!(await storage.initialAccessTokens.revoke(id, now))) throw new RegistryError(`no live initial access token ${id}`, 'not_found');
}

/** How a token stands, for `list`: live, revoked, expired or used up. */
export function tokenState(token: InitialAccessToken, now: number): 'live' | 'revoked' | 'expired' | 'used up' {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && token.expiresAt <= now) return 'expired';
  if (token.maxUses !== null && token.uses >= token.maxUses) return 'used up';
  return 'live';
}

import { addressKey } from '../lib/address-key.ts';
import type { ServerContext } from '../context.ts';
import { InvalidToken } from '../errors.ts';
import { randomToken, sha256 } from '../lib/random.ts';
import { Registry } from '../registry/registry.ts';
import { bearerToken } from './bearer-token.ts';
import { TooManyRegistrations } from './errors.ts';
import { tokenState } from './initial-access-tokens.ts';
import { readClientMetadata } from './metadata.ts';
import { asRegistrationError } from './registry-refusal.ts';
import { clientInformation } from './response.ts';

/**
 * RFC 7591 §3 client registration endpoint, as named steps: the address's rate, the initial access
 * token (when the policy asks for one), the metadata, and the registration, all of whose rows (the
 * client, its registration, the token's use count) are written in one transaction.
 */

export interface RegistrationRequest {
  /** The Authorization header (an initial access token, RFC 7591 §3). */
  authorization: string | undefined;
  /** The parsed JSON body. */
  body: unknown;
  /** The caller's address (behind trusted proxies, the client's). */
  address: string;
}

/** Registrations are counted per address in windows of an hour. */
const RATE_WINDOW_SECONDS = 3600;

/** Registers a client; the RFC 7591 §3.2.1 client information response (sent with 201). */
export async function registerClient(ctx: ServerContext, request: RegistrationRequest): Promise<Record<string, unknown>> {
  const now = ctx.now();
  await checkRate(ctx, request.address, now);
  const initialTokenHash = ctx.settings.registration === 'initial-access-token' ? await checkInitialAccessToken(ctx, request, now) : undefined;
  const metadata = readClientMetadata(request.body, {
    allowClientCredentials: ctx.settings.registrationAllowClientCredentials,
    resources: await ctx.storage.resources.list(),
    allowLoopbackBackchannelLogout: ctx.settings.allowLoopbackBackchannelLogout,
  });
  // RFC 7592 §3: the registration access token; high entropy, kept only as its hash.
  const registrationAccessToken = randomToken(32);
  const registry = new Registry(ctx.storage);
  let created;
  try {
    created = await registry.createClient(metadata.input, {
      within: async (trx, clientId) => {
        let initialAccessTokenId: string | null = null;
        if (initialTokenHash !== undefined) {
          // Counted in the registration's own transaction: a registration that fails uses nothing, and
          // two racing for a token's last use cannot both have it.
          initialAccessTokenId = (await ctx.storage.initialAccessTokens.consume(trx, initialTokenHash, now)) ?? null;
          if (initialAccessTokenId === null) throw new InvalidToken('the initial access token is invalid, expired, used up or revoked');
        }
        await ctx.storage.registrations.insert(trx, {
          clientId,
          accessTokenHash: sha256(registrationAccessToken),
          metadata: { ...metadata.descriptive },
          initialAccessTokenId,
          createdAt: now,
        });
      },
    });
  } catch (err) {
    throw asRegistrationError(err);
  }
  ctx.logger.info({ clientId: created.client.clientId, address: request.address }, 'client registered itself (RFC 7591)');
  return clientInformation(ctx, created.client, metadata.descriptive, { registrationAccessToken, clientSecret: created.clientSecret });
}

/**
 * RFC 7591 §5: the server may limit registrations to counter denial of service. Every request from an
 * address counts, refused ones too, within the address's hourly window.
 */
async function checkRate(ctx: ServerContext, address: string, now: number): Promise<void> {
  const windowStart = now - (now % RATE_WINDOW_SECONDS);
  const count = await ctx.storage.rateLimits.hit(`registration:${addressKey(address)}`, windowStart);
  if (count > ctx.settings.registrationRateLimitPerHour) {
    throw new TooManyRegistrations('too many registrations from this address; try again later', windowStart + RATE_WINDOW_SECONDS - now);
  }
}

/**
 * RFC 7591 §3: with LATCHKEY_REGISTRATION=initial-access-token the request must carry a live initial
 * access token as a Bearer token, else `invalid_token` (RFC 6750 §3.1, 401). Checked before the
 * metadata; its use is counted when the client is stored. Returns the token's hash.
 */
async function checkInitialAccessToken(ctx: ServerContext, request: RegistrationRequest, now: number): Promise<string> {
  const value = bearerToken(request.authorization, 'an initial access token');
  const hash = sha256(value);
  const token = await ctx.storage.initialAccessTokens.findByHash(hash);
  if (!token || tokenState(token, now) !== 'live') {
    throw new InvalidToken('the initial access token is invalid, expired, used up or revoked', token ? `token ${token.id}: ${tokenState(token, now)}` : 'unknown token');
  }
  return hash;
}

import type { ServerContext } from '../context.ts';
import { InvalidToken, RegistryError } from '../errors.ts';
import { matchesHash, randomToken, sha256 } from '../lib/random.ts';
import { Registry } from '../registry/registry.ts';
import type { Client } from '../registry/types.ts';
import type { ClientRegistration } from '../storage/client-registration-store.ts';
import { bearerToken } from './bearer-token.ts';
import { InvalidClientMetadata } from './errors.ts';
import { readClientMetadata, type DescriptiveMetadata } from './metadata.ts';
import { asRegistrationError } from './registry-refusal.ts';
import { clientInformation } from './response.ts';

/**
 * RFC 7592 client configuration endpoint (`registration_client_uri`): read, update and delete a
 * registration with its registration access token. Each operation first proves the token.
 */

export interface ManagementRequest {
  clientId: string;
  authorization: string | undefined;
}

/** A hash no token matches, compared against when the client is unknown, so timing says nothing. */
const NO_REGISTRATION_HASH = sha256('latchkey: no registration has this token');

/**
 * The client the registration access token belongs to. RFC 7592 §3: "If the registration access
 * token used to make this request is not valid, the server MUST respond with an error as described in
 * OAuth 2.0 Bearer Token Usage": 401 invalid_token; the same for a client that does not exist (§2.1,
 * §2.2, §2.3: "MUST respond with HTTP 401 Unauthorized"), or that an operator registered.
 */
async function authorize(ctx: ServerContext, request: ManagementRequest): Promise<{ client: Client; registration: ClientRegistration; token: string }> {
  const token = bearerToken(request.authorization, 'the registration access token');
  const registration = await ctx.storage.registrations.find(request.clientId);
  const matches = matchesHash(token, registration?.accessTokenHash ?? NO_REGISTRATION_HASH);
  const client = registration && matches ? await ctx.storage.clients.find(request.clientId) : undefined;
  if (!registration || !matches || !client) throw new InvalidToken('the registration access token is invalid');
  return { client, registration, token };
}

/** RFC 7592 §2.1 read: the client information response, with the token the request was made with. */
export async function readRegistration(ctx: ServerContext, request: ManagementRequest): Promise<Record<string, unknown>> {
  const { client, registration, token } = await authorize(ctx, request);
  return clientInformation(ctx, client, registration.metadata as DescriptiveMetadata, { registrationAccessToken: token });
}

/** Members of the client information response that an update request must not carry (RFC 7592 §2.2). */
const SERVER_MEMBERS = ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at'];

/**
 * RFC 7592 §2.2 update: the body replaces the registration whole ("Omitted fields MUST be treated as
 * null or empty values"), checked like a new registration. The registration access token is replaced
 * (docs/security.md L80): the answer carries the new one, and the old one stops working.
 */
export async function updateRegistration(ctx: ServerContext, request: ManagementRequest & { body: unknown }): Promise<Record<string, unknown>> {
  const { client, registration } = await authorize(ctx, request);
  const body = request.body;
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const m = body as Record<string, unknown>;
    // RFC 7592 §2.2: "The client MUST include its "client_id" field in the request, and it MUST be the
    // same as its currently issued client identifier."
    if (m.client_id !== client.clientId) throw new InvalidClientMetadata('client_id must be present and equal to this client\'s identifier');
    // RFC 7592 §2.2: the request "MUST NOT include the "registration_access_token",
    // "registration_client_uri", "client_secret_expires_at", or "client_id_issued_at" fields".
    const present = SERVER_MEMBERS.filter((name) => Object.hasOwn(m, name));
    if (present.length > 0) throw new InvalidClientMetadata(`an update must not include ${present.join(', ')}`);
    // RFC 7592 §2.2: "If the client includes the "client_secret" field in the request, the value of
    // this field MUST match the currently issued client secret for that client."
    if (Object.hasOwn(m, 'client_secret') && m.client_secret !== null) {
      const ok = typeof m.client_secret === 'string' && client.secretHash !== null && matchesHash(m.client_secret, client.secretHash);
      if (!ok) throw new InvalidClientMetadata('client_secret does not match the secret issued to this client');
    }
  }
  const metadata = readClientMetadata(body, {
    allowClientCredentials: ctx.settings.registrationAllowClientCredentials,
    resources: await ctx.storage.resources.list(),
    allowLoopbackBackchannelLogout: ctx.settings.allowLoopbackBackchannelLogout,
  });
  const registrationAccessToken = randomToken(32);
  let replaced;
  try {
    replaced = await new Registry(ctx.storage).replaceClient(client.clientId, metadata.input, {
      within: async (trx, clientId) => {
        const change = { previousTokenHash: registration.accessTokenHash, accessTokenHash: sha256(registrationAccessToken), metadata: { ...metadata.descriptive } };
        if (!(await ctx.storage.registrations.replace(trx, clientId, change))) throw new InvalidToken('the registration access token is invalid');
      },
    });
  } catch (err) {
    // Deleted meanwhile: the token belongs to no client any more (RFC 7592 §2.2: 401).
    if (err instanceof RegistryError && err.code === 'not_found') throw new InvalidToken('the registration access token is invalid');
    throw asRegistrationError(err);
  }
  return clientInformation(ctx, replaced.client, metadata.descriptive, { registrationAccessToken, clientSecret: replaced.clientSecret });
}

/**
 * RFC 7592 §2.3 delete: the client is deleted as `latchkey clients delete` deletes it (its grants
 * revoked, its tokens with them, its id never given again); the registration goes with it.
 */
export async function deleteRegistration(ctx: ServerContext, request: ManagementRequest): Promise<void> {
  const { client } = await authorize(ctx, request);
  try {
    await new Registry(ctx.storage).deleteClient(client.clientId);
  } catch (err) {
    if (err instanceof RegistryError && err.code === 'not_found') throw new InvalidToken('the registration access token is invalid');
    throw err;
  }
  ctx.logger.info({ clientId: client.clientId }, 'client deleted its registration (RFC 7592)');
}

import type { ClientType, IdTokenAlgorithm, TokenEndpointAuthMethod, Client } from '../registry/types.ts';
import type { TokenExchangePolicy } from '../registry/types.ts';
import { list, print, requirePositional, requireString, UsageError, type CommandArgs } from './io.ts';
import { readJwksFile } from './jwks-file.ts';
import { withContext } from './with-context.ts';

export async function clientsCommand(args: CommandArgs): Promise<number> {
  const sub = args.positionals[0];
  return withContext(args, async (_ctx, registry) => {
    switch (sub) {
      case 'create': {
        const audiences = list(args.values.audiences);
        const { client, clientSecret } = await registry.createClient({
          name: requireString(args.values, 'name'),
          type: requireString(args.values, 'type') as ClientType,
          clientId: typeof args.values['client-id'] === 'string' ? args.values['client-id'] : undefined,
          grantTypes: list(args.values['grant-types']),
          scopes: list(args.values.scopes),
          audiences: audiences.length ? audiences : undefined,
          tokenEndpointAuthMethod: args.values['auth-method'] as TokenEndpointAuthMethod | undefined,
          redirectUris: list(args.values['redirect-uris']),
          postLogoutRedirectUris: list(args.values['post-logout-redirect-uris']),
          firstParty: args.values['first-party'] === true,
          idTokenSignedResponseAlg: args.values['id-token-alg'] as IdTokenAlgorithm | undefined,
          introspectFor: list(args.values['introspect-for']),
          jwks: readJwksFile(args.values['jwks-file']),
          jwksUri: typeof args.values['jwks-uri'] === 'string' ? args.values['jwks-uri'] : undefined,
          refreshGraceSeconds: graceOption(args.values['refresh-grace-seconds']) ?? null,
        });
        const secretLine = clientSecret
          ? `client_secret: ${clientSecret}\n\nThe secret is shown only this once; Latchkey keeps only its hash.`
          : client.tokenEndpointAuthMethod === 'private_key_jwt'
            ? 'private_key_jwt: no secret; the client signs its assertions with its own keys'
            : 'public client: no secret';
        print(
          args,
          { client_id: client.clientId, client_secret: clientSecret, client: clientJson(client) },
          `created client ${client.name}\nclient_id:     ${client.clientId}\n${secretLine}`,
        );
        return 0;
      }
      case 'list': {
        const clients = await registry.listClients();
        print(
          args,
          { clients: clients.map(clientJson) },
          clients.length ? clients.map((c) => `${c.clientId}  ${c.type.padEnd(12)} ${c.source.padEnd(20)} ${c.name}`).join('\n') : 'no clients',
        );
        return 0;
      }
      case 'show': {
        const client = await registry.getClient(requirePositional(args.positionals, 'the client id'));
        const exchanges = await registry.tokenExchangePolicies(client.clientId);
        print(
          args,
          { ...clientJson(client), token_exchange: exchanges.map(exchangeJson) },
          `${clientText(client)}\n${exchangeText(exchanges)}`,
        );
        return 0;
      }
      case 'delete': {
        const clientId = requirePositional(args.positionals, 'the client id');
        await registry.deleteClient(clientId);
        print(args, { deleted: clientId }, `deleted client ${clientId}`);
        return 0;
      }
      case 'allow-exchange': {
        const clientId = requirePositional(args.positionals, 'the client id');
        const policy = await registry.allowTokenExchange(clientId, requireString(args.values, 'audience'), list(args.values.scopes));
        print(
          args,
          { client_id: clientId, token_exchange: exchangeJson(policy) },
          `client ${clientId} may exchange tokens for ${policy.audience} with scopes ${policy.scopes.join(' ')}`,
        );
        return 0;
      }
      case 'disallow-exchange': {
        const clientId = requirePositional(args.positionals, 'the client id');
        const audience = requireString(args.values, 'audience');
        await registry.disallowTokenExchange(clientId, audience);
        print(args, { client_id: clientId, disallowed: audience }, `client ${clientId} may no longer exchange tokens for ${audience}`);
        return 0;
      }
      case 'update': {
        const clientId = requirePositional(args.positionals, 'the client id');
        const grace = graceOption(args.values['refresh-grace-seconds']);
        if (grace === undefined) throw new UsageError('clients update needs --refresh-grace-seconds (seconds, or default)');
        const client = await registry.setRefreshGrace(clientId, grace);
        print(args, clientJson(client), `updated client ${clientId}\n${clientText(client)}`);
        return 0;
      }
      case 'rotate-secret': {
        const clientId = requirePositional(args.positionals, 'the client id');
        const secret = await registry.rotateSecret(clientId);
        print(
          args,
          { client_id: clientId, client_secret: secret },
          `client_id:     ${clientId}\nclient_secret: ${secret}\n\nThe old secret no longer works. The new one is shown only this once.`,
        );
        return 0;
      }
      default:
        throw new UsageError(`unknown clients command "${sub ?? ''}"`);
    }
  });
}

/** --refresh-grace-seconds: whole seconds, `default` (null: the client type's default), or not given. */
function graceOption(value: string | string[] | boolean | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'default') return null;
  if (typeof value !== 'string' || !/^\d{1,4}$/.test(value)) throw new UsageError('--refresh-grace-seconds must be a number of seconds or default');
  return Number(value);
}

/** A token exchange policy as shown to admins. */
function exchangeJson(p: TokenExchangePolicy) {
  return { audience: p.audience, scopes: p.scopes };
}

function exchangeText(policies: TokenExchangePolicy[]): string {
  if (policies.length === 0) return 'exchanges:   (none)';
  return policies.map((p, i) => `${i === 0 ? 'exchanges:  ' : '            '} ${p.audience} (${p.scopes.join(' ')})`).join('\n');
}

/** Who registered a client, as `clients show` says it. */
const SOURCE_TEXT: Record<Client['source'], string> = {
  operator: 'operator',
  'dynamic-registration': 'dynamic-registration (registered itself, RFC 7591: unverified)',
  'metadata-document': 'metadata-document (client ID metadata document: unverified)',
};

/** A client as shown to admins: never the secret or its hash. */
function clientJson(c: Client) {
  return {
    client_id: c.clientId,
    name: c.name,
    type: c.type,
    token_endpoint_auth_method: c.tokenEndpointAuthMethod,
    grant_types: c.grantTypes,
    scopes: [...c.oidcScopes, ...c.scopes.map((s) => s.scope)],
    audiences: c.audiences.map((a) => a.identifier),
    redirect_uris: c.redirectUris,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    first_party: c.firstParty,
    source: c.source,
    id_token_signed_response_alg: c.idTokenSignedResponseAlg,
    introspect_for: c.introspectsFor,
    jwks_uri: c.jwksUri,
    jwks: c.jwks,
    refresh_grace_seconds: c.refreshGraceSeconds,
    created_at: new Date(c.createdAt * 1000).toISOString(),
    secret_rotated_at: c.secretRotatedAt === null ? null : new Date(c.secretRotatedAt * 1000).toISOString(),
  };
}

function clientText(c: Client): string {
  return [
    `client_id:   ${c.clientId}`,
    `name:        ${c.name}`,
    `type:        ${c.type}`,
    `auth method: ${c.tokenEndpointAuthMethod}`,
    `grant types: ${c.grantTypes.join(' ')}`,
    `scopes:      ${[...c.oidcScopes, ...c.scopes.map((s) => s.scope)].join(' ') || '(none)'}`,
    `audiences:   ${c.audiences.map((a) => a.identifier).join(' ') || '(none)'}`,
    `redirects:   ${c.redirectUris.join(' ') || '(none)'}`,
    `logout to:   ${c.postLogoutRedirectUris.join(' ') || '(none)'}`,
    `first party: ${c.firstParty ? 'yes (no consent page)' : 'no'}`,
    `source:      ${SOURCE_TEXT[c.source]}`,
    `ID tokens:   ${c.idTokenSignedResponseAlg}`,
    `introspects: ${c.introspectsFor.join(' ') || '(own tokens only)'}`,
    `refresh grace: ${c.refreshGraceSeconds === null ? `default (${c.type === 'public' ? 'none for public clients' : 'LATCHKEY_REFRESH_GRACE_SECONDS'})` : `${c.refreshGraceSeconds} s`}`,
    ...keysText(c),
  ].join('\n');
}

/** private_key_jwt clients: where their keys are (RFC 7591 §2 jwks or jwks_uri). */
function keysText(c: Client): string[] {
  if (c.jwksUri) return [`jwks_uri:    ${c.jwksUri}`];
  if (c.jwks) return [`jwks:        ${c.jwks.keys.map((k) => `${k.kty}${k.alg ? ` ${k.alg}` : ''}${k.kid ? ` kid=${k.kid}` : ''}`).join(', ')}`];
  return [];
}

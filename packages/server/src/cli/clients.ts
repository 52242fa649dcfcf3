import type { ClientProfile, ClientType, IdTokenAlgorithm, TokenEndpointAuthMethod, Client } from '../registry/types.ts';
import type { TokenExchangePolicy } from '../registry/types.ts';
import { clientJson, exchangeJson } from '../admin/representations.ts';
import { changesSomething, updateClientSettings } from '../registry/client-update.ts';
import { list, print, requirePositional, requireString, UsageError, type CommandArgs } from './io.ts';
import { readJwksFile } from './jwks-file.ts';
import { databaseWords, withContext } from './with-context.ts';
import { SUBJECT_METADATA, type TlsClientAuthSubject } from '../mtls/subject.ts';

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
          dpopBoundAccessTokens: args.values['dpop-bound'] === true,
          tlsClientCertificateBoundAccessTokens: args.values['certificate-bound'] === true,
          ...tlsSubjectOption(args.values),
          requirePushedAuthorizationRequests: args.values['require-par'] === true,
          requireSecondFactor: args.values['require-second-factor'] === true,
          requirePasskey: args.values['require-passkey'] === true,
          ...(typeof args.values.profile === 'string' ? { profile: args.values.profile as ClientProfile } : {}),
          backchannelLogoutUri: typeof args.values['backchannel-logout-uri'] === 'string' ? args.values['backchannel-logout-uri'] : null,
          backchannelLogoutSessionRequired: args.values['backchannel-logout-session-required'] === true,
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
          clients.length ? clients.map((c) => `${c.clientId}  ${c.type.padEnd(12)} ${c.source.padEnd(20)} ${c.name}`).join('\n') : `no clients in ${databaseWords(_ctx)}`,
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
        const requirePar = requireParOption(args.values);
        const requireSecondFactor = switchOption(args.values, 'require-second-factor');
        const requirePasskey = switchOption(args.values, 'require-passkey');
        const profile = typeof args.values.profile === 'string' ? (args.values.profile as ClientProfile) : undefined;
        const backchannelUri = typeof args.values['backchannel-logout-uri'] === 'string' ? args.values['backchannel-logout-uri'] : undefined;
        if (args.values['backchannel-logout-session-required'] === true && backchannelUri === undefined) {
          throw new UsageError('--backchannel-logout-session-required goes with --backchannel-logout-uri');
        }
        const backchannelLogout =
          backchannelUri === undefined ? undefined : { uri: backchannelUri === 'none' ? null : backchannelUri, sessionRequired: args.values['backchannel-logout-session-required'] === true };
        const change = { refreshGraceSeconds: grace, requirePushedAuthorizationRequests: requirePar, requireSecondFactor, requirePasskey, profile, backchannelLogout };
        if (!changesSomething(change)) {
          throw new UsageError('clients update needs --refresh-grace-seconds (seconds, or default), --require-par, --no-require-par, --require-second-factor, --no-require-second-factor, --require-passkey, --no-require-passkey, --profile or --backchannel-logout-uri');
        }
        const client = await updateClientSettings(registry, clientId, change);
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

/** --NAME / --no-NAME: true, false, or undefined when neither is given. */
function switchOption(values: CommandArgs['values'], name: string): boolean | undefined {
  if (values[name] === true && values[`no-${name}`] === true) throw new UsageError(`give --${name} or --no-${name}, not both`);
  if (values[name] === true) return true;
  if (values[`no-${name}`] === true) return false;
  return undefined;
}

/** --require-par / --no-require-par: true, false, or undefined when neither is given. */
function requireParOption(values: CommandArgs['values']): boolean | undefined {
  if (values['require-par'] === true && values['no-require-par'] === true) throw new UsageError('give --require-par or --no-require-par, not both');
  if (values['require-par'] === true) return true;
  if (values['no-require-par'] === true) return false;
  return undefined;
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
    `back-channel logout: ${c.backchannelLogoutUri ? `${c.backchannelLogoutUri}${c.backchannelLogoutSessionRequired ? ' (sid required)' : ''}` : '(none)'}`,
    `first party: ${c.firstParty ? 'yes (no consent page)' : 'no'}`,
    `source:      ${SOURCE_TEXT[c.source]}`,
    `ID tokens:   ${c.idTokenSignedResponseAlg}`,
    `introspects: ${c.introspectsFor.join(' ') || '(own tokens only)'}`,
    `refresh grace: ${c.refreshGraceSeconds === null ? `default (${c.type === 'public' ? 'none for public clients' : 'LATCHKEY_REFRESH_GRACE_SECONDS'})` : `${c.refreshGraceSeconds} s`}`,
    `DPoP:        ${c.dpopBoundAccessTokens ? 'required (every token is DPoP-bound)' : 'optional (tokens are bound when a proof is sent)'}`,
    `PAR:         ${c.requirePushedAuthorizationRequests || c.profile === 'fapi2' ? 'required (authorization requests only by request_uri)' : 'optional'}`,
    `sign-in:     ${c.requirePasskey ? 'a passkey required' : c.requireSecondFactor ? 'two factors required' : 'as the user and the server settings require'}`,
    `profile:     ${c.profile === 'fapi2' ? 'fapi2 (FAPI 2.0 Security Profile)' : 'default'}`,
    ...mtlsText(c),
    ...keysText(c),
  ].join('\n');
}

/** private_key_jwt clients: where their keys are (RFC 7591 §2 jwks or jwks_uri). */
function keysText(c: Client): string[] {
  if (c.jwksUri) return [`jwks_uri:    ${c.jwksUri}`];
  if (c.jwks) return [`jwks:        ${c.jwks.keys.map((k) => `${k.kty}${k.alg ? ` ${k.alg}` : ''}${k.kid ? ` kid=${k.kid}` : ''}`).join(', ')}`];
  return [];
}

/** --tls-subject-dn and the --tls-san-* options: the certificate subject of a tls_client_auth client (RFC 8705 §2.1.2). */
function tlsSubjectOption(values: CommandArgs['values']): { tlsClientAuth?: TlsClientAuthSubject } {
  const given = (
    [
      ['tls-subject-dn', 'subjectDn'],
      ['tls-san-dns', 'sanDns'],
      ['tls-san-uri', 'sanUri'],
      ['tls-san-ip', 'sanIp'],
      ['tls-san-email', 'sanEmail'],
    ] as const
  ).filter(([option]) => typeof values[option] === 'string');
  if (given.length === 0) return {};
  if (given.length > 1) throw new UsageError('give one of --tls-subject-dn, --tls-san-dns, --tls-san-uri, --tls-san-ip, --tls-san-email');
  const [option, kind] = given[0]!;
  return { tlsClientAuth: { [kind]: values[option] as string } as TlsClientAuthSubject };
}

/** RFC 8705: how the client uses its certificate, when it does. */
function mtlsText(c: Client): string[] {
  const lines: string[] = [];
  if (c.tlsClientAuth) {
    const [kind, value] = Object.entries(c.tlsClientAuth)[0]!;
    lines.push(`certificate: ${SUBJECT_METADATA[kind as keyof typeof SUBJECT_METADATA]} = ${value}`);
  }
  if (c.tlsClientCertificateBoundAccessTokens) lines.push('bound to:    the client certificate (every token request over mutual TLS)');
  return lines;
}

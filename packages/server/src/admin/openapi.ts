import { ADMIN_READ, ADMIN_WRITE } from './admin-resource.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './pagination.ts';

/**
 * The OpenAPI 3.1 document of the admin API, served at `/admin/v1/openapi.json` (docs/admin-api.md).
 * Written as data; a test (test/admin-api.test.ts) checks that its paths and methods are exactly the
 * routes the server registers.
 */

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const strings: Schema = { type: 'array', items: { type: 'string' } };
const json = (schema: Schema) => ({ 'application/json': { schema } });

const PROBLEM_RESPONSE = { description: 'RFC 9457 problem details', content: { 'application/problem+json': { schema: ref('Problem') } } };
const ERRORS = {
  '400': { ...PROBLEM_RESPONSE, description: 'malformed request (the member `field` names the field)' },
  '401': { ...PROBLEM_RESPONSE, description: 'no token, or an invalid, expired or revoked one, or one not for urn:latchkey:admin' },
  '403': { ...PROBLEM_RESPONSE, description: 'the token lacks the scope (insufficient_scope)' },
  '404': { ...PROBLEM_RESPONSE, description: 'no such object' },
};
const CHANGE_ERRORS = {
  ...ERRORS,
  '409': { ...PROBLEM_RESPONSE, description: 'it exists already, or conflicts with what exists' },
  '412': { ...PROBLEM_RESPONSE, description: 'If-Match does not match the current ETag' },
  '422': { ...PROBLEM_RESPONSE, description: 'a registry rule refuses the change' },
  '428': { ...PROBLEM_RESPONSE, description: 'If-Match is required' },
};

const ETAG_HEADER = { ETag: { description: 'the version of the object, for If-Match', schema: { type: 'string' } } };
const IF_MATCH: Schema = { name: 'If-Match', in: 'header', required: true, description: 'the ETag of the object as read (RFC 9110 §13.1.1)', schema: { type: 'string' } };
const PAGE_PARAMETERS: Schema[] = [
  { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } },
  { name: 'cursor', in: 'query', required: false, description: 'next_cursor of the previous page', schema: { type: 'string' } },
];
const pathParameter = (name: string, description: string): Schema => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const IDENTIFIER = pathParameter('identifier', 'the resource identifier, percent-encoded');
const CLIENT_ID = pathParameter('clientId', 'the client id');
const AUDIENCE = pathParameter('audience', 'the API the exchanged tokens are for, percent-encoded');
const KID = pathParameter('kid', 'the key id');

const page = (item: string, extra: Schema = {}): Schema => ({
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: { items: { type: 'array', items: ref(item) }, next_cursor: { type: ['string', 'null'] }, ...extra },
});

const read = (summary: string, response: Schema, parameters: Schema[] = [], withEtag = false) => ({
  summary,
  security: [{ bearer: [ADMIN_READ] }],
  parameters,
  responses: { '200': { description: 'OK', ...(withEtag ? { headers: ETAG_HEADER } : {}), content: json(response) }, ...ERRORS },
});

const write = (summary: string, options: { parameters?: Schema[]; body?: Schema; status?: string; response?: Schema; ifMatch?: boolean }) => ({
  summary,
  security: [{ bearer: [ADMIN_WRITE] }],
  parameters: [...(options.parameters ?? []), ...(options.ifMatch ? [IF_MATCH] : [])],
  ...(options.body ? { requestBody: { required: true, content: json(options.body) } } : {}),
  responses: {
    [options.status ?? '200']: options.response ? { description: 'OK', content: json(options.response) } : { description: 'No content' },
    ...CHANGE_ERRORS,
  },
});

const SCHEMAS: Record<string, Schema> = {
  Problem: {
    type: 'object',
    required: ['type', 'title', 'status', 'detail'],
    properties: { type: { type: 'string', format: 'uri' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, field: { type: 'string' }, scope: { type: 'string' } },
  },
  Resource: {
    type: 'object',
    properties: {
      identifier: { type: 'string' },
      name: { type: 'string' },
      scopes: strings,
      default_scopes: strings,
      open_scopes: strings,
      scope_descriptions: { type: 'object', additionalProperties: { type: 'string' } },
      access_token_ttl_seconds: { type: ['integer', 'null'] },
      access_token_format: { enum: ['jwt', 'opaque'] },
      created_at: { type: 'string', format: 'date-time' },
    },
  },
  NewResource: {
    type: 'object',
    required: ['identifier', 'scopes'],
    additionalProperties: false,
    properties: {
      identifier: { type: 'string', format: 'uri' },
      name: { type: 'string' },
      scopes: strings,
      scope_descriptions: { type: 'object', additionalProperties: { type: 'string' } },
      default_scopes: strings,
      open_scopes: strings,
      access_token_ttl_seconds: { type: ['integer', 'null'], minimum: 1, maximum: 86400 },
      access_token_format: { enum: ['jwt', 'opaque'] },
    },
  },
  ResourceChange: { type: 'object', additionalProperties: false, properties: { default_scopes: strings, open_scopes: strings } },
  Client: {
    type: 'object',
    properties: {
      client_id: { type: 'string' },
      name: { type: 'string' },
      type: { enum: ['confidential', 'public'] },
      token_endpoint_auth_method: { type: 'string' },
      grant_types: strings,
      scopes: strings,
      audiences: strings,
      redirect_uris: strings,
      post_logout_redirect_uris: strings,
      first_party: { type: 'boolean' },
      source: { type: 'string' },
      id_token_signed_response_alg: { type: 'string' },
      introspect_for: strings,
      jwks_uri: { type: ['string', 'null'] },
      jwks: { type: ['object', 'null'] },
      refresh_grace_seconds: { type: ['integer', 'null'] },
      dpop_bound_access_tokens: { type: 'boolean' },
      tls_client_certificate_bound_access_tokens: { type: 'boolean' },
      require_pushed_authorization_requests: { type: 'boolean' },
      require_second_factor: { type: 'boolean' },
      require_passkey: { type: 'boolean' },
      profile: { type: 'string' },
      created_at: { type: 'string', format: 'date-time' },
      secret_rotated_at: { type: ['string', 'null'], format: 'date-time' },
      token_exchange: { type: 'array', items: ref('ExchangePolicy') },
    },
  },
  NewClient: {
    type: 'object',
    required: ['name', 'type'],
    additionalProperties: false,
    properties: {
      name: { type: 'string' },
      type: { enum: ['confidential', 'public'] },
      client_id: { type: 'string' },
      grant_types: strings,
      scopes: strings,
      audiences: strings,
      token_endpoint_auth_method: { type: 'string' },
      redirect_uris: strings,
      post_logout_redirect_uris: strings,
      first_party: { type: 'boolean' },
      id_token_signed_response_alg: { enum: ['RS256', 'ES256'] },
      introspect_for: strings,
      jwks: { type: 'object' },
      jwks_uri: { type: 'string', format: 'uri' },
      refresh_grace_seconds: { type: ['integer', 'null'], minimum: 0, maximum: 60 },
      dpop_bound_access_tokens: { type: 'boolean' },
      tls_client_certificate_bound_access_tokens: { type: 'boolean' },
      require_pushed_authorization_requests: { type: 'boolean' },
      require_second_factor: { type: 'boolean' },
      require_passkey: { type: 'boolean' },
      profile: { enum: ['default', 'fapi2'] },
    },
  },
  CreatedClient: {
    type: 'object',
    required: ['client_id', 'client_secret', 'client'],
    properties: { client_id: { type: 'string' }, client_secret: { type: ['string', 'null'], description: 'shown only in this answer' }, client: ref('Client') },
  },
  ClientChange: {
    type: 'object',
    additionalProperties: false,
    properties: {
      refresh_grace_seconds: { type: ['integer', 'null'], minimum: 0, maximum: 60 },
      require_pushed_authorization_requests: { type: 'boolean' },
      require_second_factor: { type: 'boolean' },
      require_passkey: { type: 'boolean' },
      profile: { enum: ['default', 'fapi2'] },
    },
  },
  ClientSecret: { type: 'object', required: ['client_id', 'client_secret'], properties: { client_id: { type: 'string' }, client_secret: { type: 'string', description: 'shown only in this answer' } } },
  ExchangePolicy: { type: 'object', properties: { audience: { type: 'string' }, scopes: strings } },
  ExchangeScopes: { type: 'object', required: ['scopes'], additionalProperties: false, properties: { scopes: strings } },
  Key: {
    type: 'object',
    properties: {
      kid: { type: 'string' },
      alg: { type: 'string' },
      status: { enum: ['signing', 'next', 'published', 'expired'] },
      created_at: { type: ['string', 'null'], format: 'date-time' },
      age_seconds: { type: 'integer' },
      signs_from: { type: ['string', 'null'], format: 'date-time' },
      signs_until: { type: ['string', 'null'], format: 'date-time' },
      unpublish_at: { type: ['string', 'null'], format: 'date-time' },
      next_rotation_at: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  KeyRotation: { type: 'object', additionalProperties: false, properties: { alg: { enum: ['ES256', 'RS256', 'all'] }, immediately: { type: 'boolean' } } },
  KeyRotated: {
    type: 'object',
    properties: {
      rotated: { type: 'array', items: { type: 'object', properties: { alg: { type: 'string' }, kid: { type: 'string' }, signs_from: { type: 'string' }, retired: strings } } },
      old_keys_published_for_seconds: { type: 'integer' },
      prepublish_seconds: { type: 'integer' },
    },
  },
  KeyRevoked: { type: 'object', properties: { revoked: { type: 'string' }, alg: { type: 'string' }, signs_now: { type: ['string', 'null'] } } },
};

/** The document, with the issuer as its server. */
export function adminOpenApiDocument(issuer: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey admin API',
      version: '1',
      description: 'Everything the latchkey CLI does to resources, clients and keys. Tokens: client_credentials for urn:latchkey:admin.',
    },
    servers: [{ url: issuer }],
    security: [{ bearer: [ADMIN_READ] }],
    paths: {
      '/admin/v1/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } } } },
      '/admin/v1/resources': {
        get: read('List resources', page('Resource'), PAGE_PARAMETERS),
        post: write('Create a resource', { body: ref('NewResource'), status: '201', response: ref('Resource') }),
      },
      '/admin/v1/resources/{identifier}': {
        get: read('Show a resource', ref('Resource'), [IDENTIFIER], true),
        patch: write('Change its default and open scopes', { parameters: [IDENTIFIER], body: ref('ResourceChange'), response: ref('Resource'), ifMatch: true }),
        delete: write('Delete a resource', { parameters: [IDENTIFIER], status: '204', ifMatch: true }),
      },
      '/admin/v1/clients': {
        get: read('List clients', page('Client'), PAGE_PARAMETERS),
        post: write('Create a client (its secret is in this answer only)', { body: ref('NewClient'), status: '201', response: ref('CreatedClient') }),
      },
      '/admin/v1/clients/{clientId}': {
        get: read('Show a client and its token exchange policies', ref('Client'), [CLIENT_ID], true),
        patch: write('Change what latchkey clients update changes', { parameters: [CLIENT_ID], body: ref('ClientChange'), response: ref('Client'), ifMatch: true }),
        delete: write('Delete a client (its grants are revoked, its id retired)', { parameters: [CLIENT_ID], status: '204', ifMatch: true }),
      },
      '/admin/v1/clients/{clientId}/rotate-secret': {
        post: write('A new secret (shown in this answer only); the old one stops working', { parameters: [CLIENT_ID], response: ref('ClientSecret') }),
      },
      '/admin/v1/clients/{clientId}/token-exchange/{audience}': {
        put: write('Allow token exchange for the API, for at most these scopes', { parameters: [CLIENT_ID, AUDIENCE], body: ref('ExchangeScopes'), response: ref('Client'), ifMatch: true }),
        delete: write('Disallow token exchange for the API', { parameters: [CLIENT_ID, AUDIENCE], response: ref('Client'), ifMatch: true }),
      },
      '/admin/v1/keys': { get: read('List signing keys with their ages', page('Key', { rotation_days: { type: 'integer' } }), PAGE_PARAMETERS) },
      '/admin/v1/keys/rotate': { post: write('Rotate the signing keys', { body: ref('KeyRotation'), response: ref('KeyRotated') }) },
      '/admin/v1/keys/{kid}': {
        get: read('Show a signing key', ref('Key'), [KID], true),
        delete: write('Revoke a key: out of the JWKS at once', { parameters: [KID], response: ref('KeyRevoked'), ifMatch: true }),
      },
    },
    components: {
      schemas: SCHEMAS,
      securitySchemes: {
        // Sent as `Authorization: Bearer` (RFC 6750 §2.1); obtained by client_credentials for the resource.
        bearer: {
          type: 'oauth2',
          description: `An access token for urn:latchkey:admin (resource=urn:latchkey:admin): ${ADMIN_READ} to read, ${ADMIN_WRITE} to change. Clients: latchkey admin create-client.`,
          flows: {
            clientCredentials: {
              tokenUrl: `${issuer}/token`,
              scopes: { [ADMIN_READ]: 'read the configuration', [ADMIN_WRITE]: 'change the configuration (implies reading)' },
            },
          },
        },
      },
    },
  };
}

// The peer under test: node-oidc-provider, configured as close to Latchkey as it allows.
// Same grant (client_credentials), same algorithm (ES256 JWT access tokens, RFC 9068 profile), same
// token lifetime, same audience and scope; its default in-memory adapter (noted in the report).
// Usage: node oidc-provider-server.mjs PORT TOKEN_FORMAT(jwt|opaque)
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 9400);
const format = process.argv[3] === 'opaque' ? 'opaque' : 'jwt';
const issuer = `http://127.0.0.1:${port}`;

const es = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const rs = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-client',
      client_secret: 'bench-client-secret-0123456789abcdef',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'orders:read',
    },
  ],
  jwks: { keys: [{ ...es, kid: 'es', alg: 'ES256', use: 'sig' }, { ...rs, kid: 'rs', alg: 'RS256', use: 'sig' }] },
  scopes: ['orders:read'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'https://api.example.com',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'orders:read',
        audience: 'https://api.example.com',
        accessTokenTTL: 600,
        accessTokenFormat: format,
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  ttl: { ClientCredentials: 600 },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});

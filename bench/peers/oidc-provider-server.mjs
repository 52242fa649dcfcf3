// The peer under test: node-oidc-provider, configured as close to Latchkey as it allows.
// Same grant (client_credentials), same algorithm (ES256 JWT access tokens, RFC 9068 profile), same
// token lifetime, same audience and scope; an in-memory adapter like its default one, unbounded.
// Usage: node oidc-provider-server.mjs PORT TOKEN_FORMAT(jwt|opaque)
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 9400);
const format = process.argv[3] === 'opaque' ? 'opaque' : 'jwt';
const issuer = `http://127.0.0.1:${port}`;

const es = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const rs = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

// oidc-provider's bundled development adapter is an LRU of 1,000 entries: with the benchmark's pool of
// 10,000 tokens it would forget most of them. This adapter is the same idea without the bound: one Map
// per process, entries dropped when they expire.
const store = new Map();
class MapAdapter {
  constructor(model) {
    this.model = model;
  }
  key(id) {
    return `${this.model}:${id}`;
  }
  async upsert(id, payload, expiresIn) {
    store.set(this.key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    if (payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      store.set(grantKey, { payload: [...(store.get(grantKey)?.payload ?? []), this.key(id)], expiresAt: Infinity });
    }
  }
  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }
  async findByUid() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) {
    store.delete(this.key(id));
  }
  async revokeByGrantId(grantId) {
    for (const key of store.get(`grant:${grantId}`)?.payload ?? []) store.delete(key);
    store.delete(`grant:${grantId}`);
  }
}

const provider = new Provider(issuer, {
  adapter: MapAdapter,
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

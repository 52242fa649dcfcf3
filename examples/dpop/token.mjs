// A DPoP-bound access token (RFC 9449) from the client credentials grant, with nothing but `jose`:
//   CLIENT_ID=... CLIENT_SECRET=... node examples/dpop/token.mjs [issuer]
// It makes a key pair, signs a proof for POST {issuer}/token, retries once with the server's nonce
// when asked to (use_dpop_nonce, RFC 9449 §8), and prints the response and the token's binding.
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';

const issuer = process.argv[2] ?? 'http://localhost:9000';
const { CLIENT_ID, CLIENT_SECRET } = process.env;
if (!CLIENT_ID || !CLIENT_SECRET) throw new Error('set CLIENT_ID and CLIENT_SECRET');

// The private key never leaves this process (non-extractable); only the public key goes in proofs.
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = await exportJWK(publicKey);

/** RFC 9449 §4.2: typ dpop+jwt, the public key in the header, jti/htm/htu/iat (and the nonce) as claims. */
const proof = (htm, htu, nonce) =>
  new SignJWT({ jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000), ...(nonce ? { nonce } : {}) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(privateKey);

const tokenUrl = `${issuer}/token`;
const request = async (nonce) =>
  fetch(tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      dpop: await proof('POST', tokenUrl, nonce),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read' }),
  });

let res = await request();
let body = await res.json();
if (res.status === 400 && body.error === 'use_dpop_nonce') {
  res = await request(res.headers.get('dpop-nonce'));
  body = await res.json();
}
console.log(JSON.stringify(body));
if (res.ok) {
  console.log('cnf in the token:    ', JSON.stringify(decodeJwt(body.access_token).cnf));
  console.log('thumbprint of my key:', await calculateJwkThumbprint(jwk, 'sha256'));
}

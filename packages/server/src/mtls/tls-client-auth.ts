import { createPublicKey, type JsonWebKeyInput, type X509Certificate } from 'node:crypto';
import type { JWK, JSONWebKeySet } from 'jose';
import type { ServerContext } from '../context.ts';
import { InvalidClient } from '../errors.ts';
import type { Client } from '../registry/types.ts';
import { clientJwks } from '../client-auth/private-key-jwt.ts';
import { mtlsSettings, type PresentedCertificate } from './client-certificate.ts';
import { certificateMatches } from './subject.ts';

/**
 * RFC 8705 §2: a client registered for `tls_client_auth` or `self_signed_tls_client_auth` proves who
 * it is with the certificate of its TLS connection. Every failure is `invalid_client`.
 */
export async function verifyClientCertificate(ctx: ServerContext, client: Client, certificate: PresentedCertificate | undefined): Promise<void> {
  const fail = (detail: string) => new InvalidClient('client authentication failed', detail);
  if (!certificate) throw fail('no client certificate came with the request');
  const now = new Date(ctx.now() * 1000);
  // A certificate outside its validity period proves nothing, whatever its issuer.
  if (now < new Date(certificate.x509.validFrom) || now > new Date(certificate.x509.validTo)) throw fail('the client certificate is expired or not yet valid');
  if (client.tokenEndpointAuthMethod === 'tls_client_auth') {
    // RFC 8705 §2.1: "the certificate chain is validated" against trust anchors the server is
    // configured with, and the certificate matches the subject the client registered.
    if (!issuedByTrustedAuthority(certificate.x509, mtlsSettings(ctx.settings).clientAuthorities, now)) {
      throw fail('the client certificate is not issued by an authority in LATCHKEY_MTLS_CLIENT_CA_FILE');
    }
    if (!client.tlsClientAuth || !certificateMatches(certificate.x509, client.tlsClientAuth)) throw fail('the client certificate does not carry the registered subject');
    return;
  }
  // RFC 8705 §2.2: a self-signed certificate is no proof of a name; what counts is that it holds a
  // public key the client registered ("the certificate ... matches one of the certificates in the
  // client's registered jwks").
  let keys: JSONWebKeySet;
  try {
    keys = await clientJwks(ctx, client);
  } catch (err) {
    throw fail(`the client's jwks_uri could not be read: ${(err as Error).message}`);
  }
  const presented = certificate.x509.publicKey.export({ type: 'spki', format: 'der' });
  if (!keys.keys.some((jwk) => sameKey(jwk, presented))) {
    throw fail('the client certificate does not hold a key the client registered');
  }
}

/** Whether `cert` is signed by one of `authorities`, each valid now (a chain of one link: no intermediates). */
function issuedByTrustedAuthority(cert: X509Certificate, authorities: readonly X509Certificate[], now: Date): boolean {
  return authorities.some(
    (ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey) && now >= new Date(ca.validFrom) && now <= new Date(ca.validTo) && ca.ca,
  );
}

/** Whether a registered JWK is the public key of the certificate (compared as SPKI DER). */
function sameKey(jwk: JWK, spki: Buffer): boolean {
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') return false;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = jwk;
  try {
    return createPublicKey({ key: publicPart as JsonWebKeyInput['key'], format: 'jwk' }).export({ type: 'spki', format: 'der' }).equals(spki);
  } catch {
    return false;
  }
}

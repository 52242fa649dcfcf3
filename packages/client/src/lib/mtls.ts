import { createSecureContext } from 'node:tls';
import { Agent } from 'undici';
import type { FetchLike } from './http.ts';

/** A TLS client certificate (RFC 8705): PEM text, as Node's TLS options take it. */
export interface MtlsOptions {
  /** The client certificate (and any intermediates after it), PEM. */
  cert: string;
  /** Its private key, PEM. */
  key: string;
  /**
   * The authorities to trust for the servers' certificates (the authorization server's mutual-TLS
   * listener, and the APIs), PEM. Replaces Node's default list; without it, that list is used.
   */
  ca?: string | readonly string[] | undefined;
}

/**
 * A fetch that presents the client certificate on every TLS connection it opens (RFC 8705 §2 client
 * authentication, §3 certificate-bound tokens): `base` is called with an undici Agent as its
 * `dispatcher`, which Node's fetch and undici's honour. The certificate, key and authorities are
 * loaded here, so a wrong file fails when the client is created, not on its first request.
 */
export function mtlsFetch(options: MtlsOptions, base: FetchLike): FetchLike {
  if (typeof options !== 'object' || options === null) throw new TypeError('mtls must be { cert, key, ca? } (PEM)');
  for (const name of ['cert', 'key'] as const) {
    if (typeof options[name] !== 'string' || !options[name].includes('-----BEGIN')) throw new TypeError(`mtls.${name} must be PEM text`);
  }
  const ca = options.ca === undefined ? undefined : typeof options.ca === 'string' ? options.ca : [...options.ca];
  const connect = { cert: options.cert, key: options.key, ...(ca === undefined ? {} : { ca }) };
  try {
    // Throws when the key does not belong to the certificate, or a PEM does not parse.
    createSecureContext(connect);
  } catch (err) {
    throw new TypeError(`mtls: ${(err as Error).message}`, { cause: err });
  }
  // Node's RequestInit types `dispatcher` with the undici bundled in Node, a twin of this one.
  const dispatcher = new Agent({ connect }) as unknown as RequestInit['dispatcher'];
  return (input, init) => base(input, { ...init, dispatcher });
}

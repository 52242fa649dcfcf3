import type { webcrypto } from 'node:crypto';
import * as oauth from 'oauth4webapi';

/** DPoP (RFC 9449) for a LatchkeyClient: `true` for a new key, or the key pair to use. */
export type DPoPOption = boolean | DPoPKeyOptions;

export interface DPoPKeyOptions {
  /**
   * The key pair that signs the proofs (its public key must be extractable; WebCrypto's always is).
   * Default: a new ES256 key pair whose private key is not extractable.
   */
  keyPair?: webcrypto.CryptoKeyPair | undefined;
}

/**
 * The client's DPoP key (RFC 9449 §2) and oauth4webapi's handle for it, which signs the proofs and
 * remembers the last `DPoP-Nonce` of each origin (§8, §9). Made on first use, once.
 */
export class DPoPKey {
  #handle: Promise<oauth.DPoPHandle> | undefined;
  readonly #keyPair: webcrypto.CryptoKeyPair | undefined;
  readonly #client: oauth.Client;

  constructor(client: oauth.Client, options: DPoPKeyOptions) {
    this.#client = client;
    this.#keyPair = options.keyPair;
    if (this.#keyPair && !this.#keyPair.publicKey?.extractable) throw new TypeError('dpop.keyPair: the public key must be extractable');
  }

  handle(): Promise<oauth.DPoPHandle> {
    this.#handle ??= (async () => {
      // RFC 9449 §2: ES256 is what every server that supports DPoP accepts. WebCrypto keeps the private
      // key non-extractable: it signs proofs but can never be read out of this process.
      const keyPair = this.#keyPair ?? (await oauth.generateKeyPair('ES256', { extractable: false }));
      return oauth.DPoP(this.#client, keyPair);
    })();
    return this.#handle;
  }

  /** RFC 7638 §3 thumbprint of the public key (SHA-256): the `jkt` of bound tokens, the `dpop_jkt` parameter. */
  async thumbprint(): Promise<string> {
    return (await this.handle()).calculateThumbprint();
  }
}

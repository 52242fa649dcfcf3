import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A software WebAuthn authenticator for HTTP-level tests (W3C WebAuthn Level 3 §6): ES256 credentials,
 * attestation `none`, a signature counter, and whatever a test wants to get wrong (the origin, the RP
 * ID, the flags, the counter). It answers the options a Latchkey page prints in its passkey form's
 * `data-options`, as the page's script would, with PublicKeyCredential JSON (§5.1.8). Browser tests
 * use Chromium's virtual authenticator instead.
 */
export interface SoftCredential {
  id: string;
  userHandle: string;
  rpId: string;
  privateKey: KeyObject;
  counter: number;
}

export interface CeremonyOverrides {
  /** The origin written into the client data; default the RP's https or http origin given. */
  origin?: string;
  /** The RP ID hashed into the authenticator data; default the options' RP ID. */
  rpId?: string;
  /** §6.1 flag UV; default true. */
  userVerified?: boolean;
  /** §6.1 flags BE and BS: a synced (multi-device) credential; default false. */
  synced?: boolean;
  /** The signature counter to report; default one more than the last. */
  counter?: number;
  /** The client data's type; default webauthn.create / webauthn.get. */
  type?: string;
  /** Another challenge than the options'. */
  challenge?: string;
}

const b64 = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  private readonly origin: string;

  /** `origin`: the page's origin (the issuer's), written into the client data. */
  constructor(origin: string) {
    this.origin = origin;
  }

  private authData(rpId: string, counter: number, o: CeremonyOverrides, attested?: Uint8Array): Buffer {
    // §6.1 flags: UP 0x01, UV 0x04, BE 0x08, BS 0x10, AT 0x40.
    let flags = 0x01;
    if (o.userVerified !== false) flags |= 0x04;
    if (o.synced) flags |= 0x08 | 0x10;
    if (attested) flags |= 0x40;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(o.rpId ?? rpId), Buffer.from([flags]), count, ...(attested ? [Buffer.from(attested)] : [])]);
  }

  private clientData(type: string, challenge: string, o: CeremonyOverrides): Buffer {
    return Buffer.from(JSON.stringify({ type: o.type ?? type, challenge: o.challenge ?? challenge, origin: o.origin ?? this.origin, crossOrigin: false }));
  }

  /** navigator.credentials.create: a new credential for `options` (PublicKeyCredentialCreationOptionsJSON). */
  create(options: { challenge: string; rp: { id?: string }; user: { id: string } }, o: CeremonyOverrides = {}): Record<string, unknown> {
    const rpId = options.rp.id!;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const id = randomBytes(32);
    // RFC 9053 / §6.5.1.1: an EC2 COSE_Key: kty 2, alg -7 (ES256), crv 1 (P-256), x, y.
    const coseKey = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
        [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
      ]),
    );
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLength, id, Buffer.from(coseKey)]);
    const counter = o.counter ?? 0;
    const authData = this.authData(rpId, counter, o, attested);
    const attestation = new Map<string, string | Map<string, string> | Uint8Array>();
    attestation.set('fmt', 'none');
    attestation.set('attStmt', new Map<string, string>());
    attestation.set('authData', new Uint8Array(authData));
    const attestationObject = isoCBOR.encode(attestation);
    this.credentials.push({ id: b64(id), userHandle: options.user.id, rpId, privateKey, counter });
    return {
      id: b64(id),
      rawId: b64(id),
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64(this.clientData('webauthn.create', options.challenge, o)),
        attestationObject: b64(attestationObject),
        transports: ['internal'],
      },
    };
  }

  /**
   * navigator.credentials.get: an assertion for `options` (PublicKeyCredentialRequestOptionsJSON) by
   * `credential` (default: the first allowed one, else the first this authenticator holds).
   */
  get(options: { challenge: string; rpId?: string; allowCredentials?: { id: string }[] }, o: CeremonyOverrides = {}, credential?: SoftCredential): Record<string, unknown> {
    const allowed = options.allowCredentials?.map((c) => c.id);
    const chosen = credential ?? this.credentials.find((c) => !allowed || allowed.length === 0 || allowed.includes(c.id));
    if (!chosen) throw new Error('no credential for these options');
    chosen.counter = o.counter ?? chosen.counter + 1;
    const authData = this.authData(options.rpId ?? chosen.rpId, chosen.counter, o);
    const clientData = this.clientData('webauthn.get', options.challenge, o);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), chosen.privateKey);
    return {
      id: chosen.id,
      rawId: chosen.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64(clientData),
        authenticatorData: b64(authData),
        signature: b64(signature),
        userHandle: chosen.userHandle,
      },
    };
  }
}

import { checkDpopProof, createDpopNonces, DPOP_DEFAULT_ALGORITHMS, DpopProofError, type DpopNonceSource, type DpopProof } from '@latchkey/resource-server/dpop';
import type { ServerContext } from '../context.ts';
import { InvalidDpopProof, UseDpopNonce } from '../errors.ts';
import { mac } from '../lib/mac.ts';
import type { Storage } from '../storage/storage.ts';

/** The algorithms accepted for DPoP proofs, announced as `dpop_signing_alg_values_supported` (RFC 9449 §5.1). */
export const DPOP_ALGORITHMS: readonly string[] = DPOP_DEFAULT_ALGORITHMS;

/** How long a server nonce is current, in seconds; a nonce is accepted during its period and the next. */
const NONCE_PERIOD_SECONDS = 60;

/** Checking proofs: the settings, the MAC key the nonces derive from, and the one replay store. */
export type DpopDeps = Pick<ServerContext, 'settings' | 'macKey'> & { storage: Pick<Storage, 'replays'> };

/** The nonce sources by MAC key: every node with the same key issues and accepts the same nonces. */
const nonceSources = new WeakMap<Buffer, DpopNonceSource>();

/**
 * RFC 9449 §8: the server's nonces when LATCHKEY_DPOP_NONCE is on, else undefined. Stateless: a time
 * step and its MAC under a key derived from the server's MAC key, so any node accepts any node's.
 */
export function dpopNonces(ctx: Pick<DpopDeps, 'settings' | 'macKey'>): DpopNonceSource | undefined {
  if (!ctx.settings.dpopNonce) return undefined;
  let source = nonceSources.get(ctx.macKey);
  if (!source) {
    source = createDpopNonces(Buffer.from(mac(ctx.macKey, 'dpop-nonce', 'v1'), 'base64url'), NONCE_PERIOD_SECONDS);
    nonceSources.set(ctx.macKey, source);
  }
  return source;
}

export interface ProofInput {
  /** The `DPoP` header field values of the request (undefined when there were none). */
  proof: readonly string[] | undefined;
  method: string;
  /** The endpoint's URL as published in discovery (RFC 9449 §4.3 item 9 compares `htu` with it). */
  url: string;
  /** The access token the proof accompanies (userinfo): `ath` must be its hash. */
  accessToken?: string;
  /** The client's own algorithms and clock tolerance (profiles/fapi2.ts), narrower than the defaults. */
  algorithms?: readonly string[] | undefined;
  clockToleranceSeconds?: number | undefined;
}

/**
 * Checks the DPoP proof of a request to the authorization server (RFC 9449 §4.3), if one was sent:
 * its `jti` is recorded in the database's replay store, so a proof is used once across all nodes
 * (§11.1). Undefined when the request has no `DPoP` header. Throws invalid_dpop_proof or
 * use_dpop_nonce.
 */
export async function checkRequestProof(ctx: DpopDeps, input: ProofInput): Promise<DpopProof | undefined> {
  if (input.proof === undefined || input.proof.length === 0) return undefined;
  try {
    return await checkDpopProof({
      proof: input.proof,
      method: input.method,
      url: input.url,
      accessToken: input.accessToken,
      algorithms: input.algorithms ?? DPOP_ALGORITHMS,
      ...(input.clockToleranceSeconds !== undefined ? { clockToleranceSeconds: input.clockToleranceSeconds } : {}),
      maxAgeSeconds: ctx.settings.dpopProofMaxAgeSeconds,
      replay: (key, expiresAt) => ctx.storage.replays.use('dpop_proof', key, Math.ceil(expiresAt)),
      nonce: dpopNonces(ctx),
    });
  } catch (err) {
    if (!(err instanceof DpopProofError)) throw err;
    if (err.error === 'use_dpop_nonce') throw new UseDpopNonce(err.description);
    throw new InvalidDpopProof(err.description);
  }
}

import { equalInConstantTime } from '../lib/random.ts';

/**
 * RFC 7800 §3.1 `cnf` of a sender-constrained token: the SHA-256 thumbprint of the client's DPoP key
 * (RFC 9449 §6.1 `jkt`) or of its TLS client certificate (RFC 8705 §3.1 `x5t#S256`). A token has at
 * most one: a DPoP proof, when sent, decides.
 */
export type Confirmation = { jkt: string } | { 'x5t#S256': string };

/**
 * What a token request proved about its sender (tokens/confirmation.ts): the key of its DPoP proof
 * and the certificate of its TLS connection, either of which the new tokens may be bound to.
 */
export interface SenderProof {
  /** RFC 7638 thumbprint of the DPoP proof's key, when a valid proof came with the request. */
  dpopJkt?: string;
  /** RFC 8705 §3.1 thumbprint of the client certificate, when the tokens are to be bound to it. */
  certificateThumbprint?: string;
}

/** The confirmation the new tokens carry: the DPoP key when a proof was sent, else the certificate, else none. */
export function confirmationOf(sender: SenderProof): Confirmation | undefined {
  if (sender.dpopJkt !== undefined) return { jkt: sender.dpopJkt };
  if (sender.certificateThumbprint !== undefined) return { 'x5t#S256': sender.certificateThumbprint };
  return undefined;
}

/** RFC 9449 §5: a DPoP-bound access token has `token_type` DPoP; a certificate-bound one stays Bearer (RFC 8705 §3). */
export function tokenTypeOf(cnf: Confirmation | undefined): 'DPoP' | 'Bearer' {
  return cnf !== undefined && 'jkt' in cnf ? 'DPoP' : 'Bearer';
}

/** Whether `sender` holds what `cnf` names (the same DPoP key, or the same certificate), compared in constant time. */
export function senderMatches(cnf: Confirmation, sender: SenderProof): boolean {
  const [presented, bound] = 'jkt' in cnf ? [sender.dpopJkt, cnf.jkt] : [sender.certificateThumbprint, cnf['x5t#S256']];
  return presented !== undefined && equalInConstantTime(presented, bound);
}

/** A stored `cnf` (JSON text) back as a Confirmation; anything unexpected is no confirmation at all. */
export function parseConfirmation(text: string | null): Confirmation | undefined {
  if (text === null) return undefined;
  const value = JSON.parse(text) as Record<string, unknown>;
  if (typeof value.jkt === 'string') return { jkt: value.jkt };
  if (typeof value['x5t#S256'] === 'string') return { 'x5t#S256': value['x5t#S256'] };
  throw new Error('unreadable cnf in the database');
}

/**
 * The binding of a new refresh token family. RFC 9449 §5: "Refresh tokens issued to confidential
 * clients are not bound to the DPoP proof's public key because they are already sender-constrained
 * with a different existing mechanism"; a public client's are bound to the key of its proof (and,
 * RFC 8705 §4, to its certificate when there is no proof).
 */
export function refreshBindingFor(clientType: 'public' | 'confidential', sender: SenderProof): Confirmation | undefined {
  return clientType === 'public' ? confirmationOf(sender) : undefined;
}

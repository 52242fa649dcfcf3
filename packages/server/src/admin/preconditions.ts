import { sha256 } from '../lib/random.ts';
import { PreconditionFailed, PreconditionRequired } from './problems.ts';

/** A strong entity tag (RFC 9110 §8.8.3): the SHA-256 of the object's JSON, so it changes with any field. */
export function etagOf(representation: unknown): string {
  return `"${sha256(JSON.stringify(representation))}"`;
}

/**
 * Every change names the version it was made against. RFC 6585 §3: 428 "indicates that the origin
 * server requires the request to be conditional"; RFC 9110 §13.1.1: If-Match uses the strong
 * comparison, and when it does not match "the origin server MUST NOT perform the requested method"
 * (412). `*` matches any current representation.
 */
export function checkIfMatch(header: string | string[] | undefined, current: string): void {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined || value.trim() === '') throw new PreconditionRequired();
  if (value.trim() === '*') return;
  // A weak tag (W/"...") never matches strongly.
  const tags = value.split(',').map((t) => t.trim());
  if (!tags.includes(current)) throw new PreconditionFailed();
}

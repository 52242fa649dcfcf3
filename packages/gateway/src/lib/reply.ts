import type { Outcome } from './metrics.ts';

/** A request the gateway answers itself instead of forwarding. */
export interface Rejection {
  status: number;
  headers: Record<string, string>;
  body: string;
  outcome: Outcome;
  /** The `reason` label of latchkey_gateway_denials_total, for refusals. */
  reason: string | undefined;
}

/** A JSON error body in the RFC 6749 §5.2 shape, which Latchkey uses for every error. */
export function rejection(
  status: number,
  outcome: Outcome,
  error: string,
  description: string,
  options: { headers?: Record<string, string>; reason?: string } = {},
): Rejection {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...options.headers },
    body: JSON.stringify({ error, error_description: description }),
    outcome,
    reason: options.reason,
  };
}

/** A refusal worded by @latchkey/resource-server (a fetch Response), as a rejection. */
export async function rejectionFromResponse(response: Response, outcome: Outcome, reason: string): Promise<Rejection> {
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text(), outcome, reason };
}

/**
 * RFC 6750 §3 challenge for refusals that come after the token was accepted (token exchange): the
 * same words the resource-server package uses for its own.
 */
export function bearerChallenge(realm: string, error: string, description: string, scope?: readonly string[]): string {
  const params = [`realm="${realm}"`, `error="${error}"`, `error_description="${description}"`];
  if (scope !== undefined && scope.length > 0) params.push(`scope="${scope.join(' ')}"`);
  return `Bearer ${params.join(', ')}`;
}

import type { FastifyRequest } from 'fastify';
import { InvalidRequest } from '../errors.ts';

/**
 * The Authorization header, which must come once: Node keeps only the first of several, so a second
 * one would pass unseen. OAuth 2.1 §2.4: a client "MUST NOT use more than one authentication method in
 * each request"; RFC 6750 §2 says the same of a bearer token.
 */
export function authorizationHeader(request: FastifyRequest): string | undefined {
  const raw = request.raw.rawHeaders ?? [];
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') seen++;
  if (seen > 1) throw new InvalidRequest('the Authorization header must not be repeated');
  return request.headers.authorization;
}

/**
 * The `DPoP` header fields of a request, each as sent (RFC 9449 §4.3 refuses more than one), read from
 * the raw header list, since Node joins repeated fields of an unknown name with a comma.
 */
export function dpopHeaders(request: FastifyRequest): string[] | undefined {
  const raw = request.raw.rawHeaders ?? [];
  const found: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'dpop') found.push(raw[i + 1] ?? '');
  if (found.length === 0) {
    // An injected request (light-my-request) may have no raw list.
    const value = request.headers.dpop;
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value : [value];
  }
  return found;
}

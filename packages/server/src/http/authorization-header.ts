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

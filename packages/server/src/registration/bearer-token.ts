import { InvalidToken } from '../errors.ts';

/** RFC 6750 §2.1 b64token, the syntax of a bearer token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The bearer token of an `Authorization: Bearer ...` header: an initial access token (RFC 7591 §3) or a
 * registration access token (RFC 7592 §3). Missing or malformed: `invalid_token` (401, with a Bearer
 * challenge), as RFC 7591 §3 and RFC 7592 §3 ask of both.
 */
export function bearerToken(authorization: string | undefined, what: string): string {
  if (authorization === undefined) throw new InvalidToken(`${what} is required as a Bearer token`);
  const match = /^Bearer +(\S+)$/i.exec(authorization.trim());
  if (!match || match[1]!.length > 512 || !B64TOKEN.test(match[1]!)) throw new InvalidToken(`${what} is required as a Bearer token`);
  return match[1]!;
}

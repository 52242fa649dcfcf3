import { PATHS, type EndpointName } from './paths.ts';

/** The issuer's URLs, worked out once from `LATCHKEY_ISSUER`. */
export interface IssuerUrls {
  /** The issuer identifier exactly as configured (RFC 8414 §2): the `iss` of every token. */
  issuer: string;
  /** The issuer's path ('' or '/tenant'), the prefix of every route. */
  pathPrefix: string;
  /** Whether the issuer is https: cookies are then Secure, with the `__Host-` prefix. */
  secure: boolean;
  /** The full URL of an endpoint (discovery, `aud` values, verification URIs). */
  endpoint(name: EndpointName): string;
}

export function issuerUrls(issuer: string): IssuerUrls {
  const url = new URL(issuer);
  return {
    issuer,
    pathPrefix: url.pathname.replace(/\/$/, ''),
    secure: url.protocol === 'https:',
    endpoint: (name) => `${issuer}${PATHS[name]}`,
  };
}

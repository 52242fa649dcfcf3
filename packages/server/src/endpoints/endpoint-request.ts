import type { IssuerUrls } from '../config/issuer-urls.ts';
import type { AuthenticationInput } from '../client-auth/authenticate.ts';

/** What the protocol endpoints take from HTTP: the form body, the Authorization header, query names. */
export interface EndpointRequest extends AuthenticationInput {
  /** The `DPoP` header field values (RFC 9449 §4.1), each as sent; undefined when there were none. */
  dpop?: readonly string[];
  /**
   * The URLs the request was addressed to: the issuer's, or the mutual-TLS aliases' (RFC 8705 §5) on
   * that listener. A DPoP proof's `htu` names one of them. Default: the issuer's.
   */
  urls?: IssuerUrls;
}

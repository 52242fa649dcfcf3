import type { TokenEndpointAuthMethod } from '../registry/types.ts';

/** The credentials a request carries, before they are checked against the registry. */
export interface PresentedCredentials {
  method: TokenEndpointAuthMethod;
  clientId: string;
  secret?: string;
  /** The client assertion (private_key_jwt), verified against the client's keys. */
  assertion?: string;
}

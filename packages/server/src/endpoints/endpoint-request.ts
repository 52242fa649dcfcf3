import type { AuthenticationInput } from '../client-auth/authenticate.ts';

/** What the protocol endpoints take from HTTP: the form body, the Authorization header, query names. */
export type EndpointRequest = AuthenticationInput;

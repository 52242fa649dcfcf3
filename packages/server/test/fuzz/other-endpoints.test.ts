import { fuzzAuthorizationServer } from './authorization-server-suite.ts';

/** Fuzz suite of the authorization server (authorization-server-suite.ts), part 'others': introspection, revocation, device authorization, userinfo, pushed authorization requests (RFC 9126), dynamic client registration (RFC 7591, RFC 7592), random requests to any path, and malformed HTTP over a real socket. */
fuzzAuthorizationServer('others');

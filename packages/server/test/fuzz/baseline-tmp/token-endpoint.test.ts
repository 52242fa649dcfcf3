import { fuzzAuthorizationServer } from './authorization-server-suite.ts';

/** Fuzz suite of the authorization server (authorization-server-suite.ts), part 'token': the token endpoint: every grant with every client authentication. */
fuzzAuthorizationServer('token');

import { fuzzAuthorizationServer } from './authorization-server-suite.ts';

/** Fuzz suite of the authorization server (authorization-server-suite.ts), part 'pages': the authorization endpoint and the login, consent and device pages. */
fuzzAuthorizationServer('pages');

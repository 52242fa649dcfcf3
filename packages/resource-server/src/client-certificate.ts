// Client certificates (RFC 8705, RFC 9440): where a request's certificate comes from and its
// thumbprint. One implementation for this library's middleware, the gateway and the Latchkey server.
export { certificateThumbprint, parseClientCertHeader, peerCertificate } from './lib/binding.ts';

// The test support every package's suites share (docs/development.md: "Tests"). Nothing here is
// published: it runs from source, under the test runner.
export * from './backends.ts';
export * from './browser.ts';
export * from './form-browser.ts';
export * from './latchkey.ts';
export * from './processes.ts';
export * from './raw-client.ts';
export * from './server.ts';
export * from './user-flow.ts';
export * from './tls.ts';
export * from './dpop.ts';
export * from './pki.ts';
export * from './webauthn.ts';
export * from './smtp.ts';

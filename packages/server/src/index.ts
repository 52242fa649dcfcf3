export { createServer, openContext, keyRetentionSeconds, type LatchkeyServer } from './server.ts';
export { loadSettings, validateSettings } from './config/load.ts';
export { OPTIONS, type Settings } from './config/defaults.ts';
export { Registry, type CreateClientInput, type CreateResourceInput, type CreatedClient } from './registry/registry.ts';
export type { Client, Resource, ClientType, TokenEndpointAuthMethod } from './registry/types.ts';
export { Storage } from './storage/storage.ts';
export { createLogger } from './logger.ts';
export * from './errors.ts';
export { UserRegistry, type UserView } from './users/user-registry.ts';

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigFileError, type ConfigSpec, type SecretRef } from './spec.ts';

/**
 * The secrets a configuration refers to, read from the environment or files, kept apart from the spec
 * so that no plan, export or error message can carry one.
 */
export interface Secrets {
  clients: Map<string, string>;
  providers: Map<string, string>;
  users: Map<string, string>;
}

/**
 * Reads every secret and JWKS file the configuration names (paths relative to the file's folder);
 * one that cannot be read is an error naming its place in the file, never its value.
 */
export function readReferences(spec: ConfigSpec, configFile: string, env: NodeJS.ProcessEnv = process.env): Secrets {
  const base = dirname(resolve(configFile));
  const secrets: Secrets = { clients: new Map(), providers: new Map(), users: new Map() };
  spec.clients.forEach((c, i) => {
    if (c.secret) secrets.clients.set(c.client_id, readSecret(c.secret, `clients[${i}]`, 'secret', base, env));
    if (isFileRef(c.jwks)) c.jwks = readJwks(c.jwks.file, `clients[${i}].jwks_file`, base);
  });
  spec.providers.forEach((p, i) => {
    if (p.secret) secrets.providers.set(p.id, readSecret(p.secret, `providers[${i}]`, 'secret', base, env));
  });
  spec.users.forEach((u, i) => {
    if (u.password) secrets.users.set(u.username, readSecret(u.password, `users[${i}]`, 'password', base, env));
  });
  return secrets;
}

function readSecret(ref: SecretRef, path: string, what: string, base: string, env: NodeJS.ProcessEnv): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') throw new ConfigFileError(`${path}.${what}_from_env`, `the environment variable ${ref.env} is not set`);
    return value;
  }
  let text: string;
  try {
    text = readFileSync(resolve(base, ref.file), 'utf8');
  } catch (err) {
    throw new ConfigFileError(`${path}.${what}_from_file`, `cannot read ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  // A file written by `echo` ends with a newline that is not part of the secret.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new ConfigFileError(`${path}.${what}_from_file`, `${ref.file} is empty`);
  return value;
}

function isFileRef(value: unknown): value is { file: string } {
  return typeof value === 'object' && value !== null && !('keys' in value) && typeof (value as { file?: unknown }).file === 'string';
}

function readJwks(file: string, path: string, base: string): unknown {
  let text: string;
  try {
    text = readFileSync(resolve(base, file), 'utf8');
  } catch (err) {
    throw new ConfigFileError(path, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // The parser's message would quote the file, which might hold a private key by mistake.
    throw new ConfigFileError(path, `${file} is not JSON (a JWKS: {"keys": [...]})`);
  }
}

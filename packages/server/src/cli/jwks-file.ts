import { readFileSync } from 'node:fs';
import { RegistryError } from '../errors.ts';
import { UsageError } from './io.ts';

/** The JWKS in `--jwks-file FILE` (JSON, public keys only), parsed; the registry checks its keys. */
export function readJwksFile(file: string | string[] | boolean | undefined): unknown {
  if (file === undefined) return undefined;
  if (typeof file !== 'string' || file.trim() === '') throw new UsageError('--jwks-file needs a file name');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RegistryError(`cannot read --jwks-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'invalid');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // The parser's message would quote the file, which might be a private key by mistake.
    throw new RegistryError(`--jwks-file ${file} is not JSON (a JWKS: {"keys": [...]})`, 'invalid');
  }
}

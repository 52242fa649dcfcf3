import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { GatewayConfig } from './defaults.ts';
import { ConfigError, parseConfig } from './parse.ts';

/** The text of a configuration file, parsed, checked and completed; with the text, to detect changes. */
export interface LoadedConfig {
  config: GatewayConfig;
  file: string;
  text: string;
}

/**
 * Reads a configuration file: JSON when it ends in `.json`, YAML otherwise (YAML 1.2, of which JSON is
 * a subset). Throws a {@link ConfigError} naming the file and every problem.
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`], path);
  }
  return { config: parseConfigText(text, path, env), file: path, text };
}

export function parseConfigText(text: string, path: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let raw: unknown;
  if (extname(path).toLowerCase() === '.json') {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError([`not valid JSON: ${(err as Error).message}`], path);
    }
  } else {
    // Duplicate keys are errors (uniqueKeys), so a repeated route option cannot silently win.
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `not valid YAML: ${e.message}`), path);
    raw = doc.toJS();
  }
  try {
    return parseConfig(raw, { baseDir: dirname(path), env });
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.problems, path);
    throw err;
  }
}

import type { Logger, DestinationStream } from 'pino';
import type { Settings } from '../config/defaults.ts';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Where the server's logs go (stdout by default). */
  logDestination?: DestinationStream;
}

export interface CommandArgs {
  settings: Settings;
  logger: Logger;
  values: Record<string, string | string[] | boolean | undefined>;
  positionals: string[];
  io: CliIo;
}

/** A mistake in how the command was called: printed as one line (`error: ...`, and where its help is), exit code 2. */
export class UsageError extends Error {}

export function list(value: string | string[] | boolean | undefined): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(/[,\s]+/)
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export function requireString(values: CommandArgs['values'], name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function requirePositional(positionals: string[], what: string): string {
  const value = positionals[1];
  if (!value) throw new UsageError(`${what} is required`);
  return value;
}

/** Prints `json` as one JSON object with --json, else the readable `text`. */
export function print(args: CommandArgs, json: unknown, text: string): void {
  args.io.out(args.values.json ? JSON.stringify(json, null, 2) : text);
}

import { readFileSync } from 'node:fs';
import pino from 'pino';
import { loadSettings } from '../config/load.ts';
import { ConfigError, RegistryError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { clientsCommand } from './clients.ts';
import { registrationCommand } from './registration.ts';
import { keysCommand } from './keys.ts';
import { adminCommand } from './admin.ts';
import { resourcesCommand } from './resources.ts';
import { usersCommand } from './users.ts';
import { providersCommand } from './providers.ts';
import { applyCommand } from './apply.ts';
import { exportCommand } from './export.ts';
import { loginCommand, logoutCommand, whoamiCommand } from './login.ts';
import { migrateCommand, serveCommand } from './serve.ts';
import { doctorCommand } from './doctor.ts';
import { UsageError, type CliIo, type CommandArgs } from './io.ts';
import { overallUsage, shortUsage, usageFor } from './help.ts';
import { parseCommandLine } from './parse.ts';

/** `latchkey --help`: written from the command table (commands.ts), as every command's own help is. */
export const USAGE = overallUsage();

type Handler = (args: CommandArgs) => Promise<number>;

/** The handler of each command, by its first word (it reads the rest of the words itself). */
export const HANDLERS: Record<string, Handler> = {
  serve: serveCommand,
  migrate: migrateCommand,
  doctor: doctorCommand,
  resources: resourcesCommand,
  clients: clientsCommand,
  registration: registrationCommand,
  keys: keysCommand,
  admin: adminCommand,
  users: usersCommand,
  providers: providersCommand,
  apply: applyCommand,
  export: exportCommand,
  login: loginCommand,
  whoami: whoamiCommand,
  logout: logoutCommand,
};

/** The server package's version, from its package.json (two levels up from src/cli/ and from dist/cli/). */
export function version(): string {
  const file = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let line;
  try {
    line = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`error: ${err.message}`);
    return 2;
  }
  switch (line.kind) {
    case 'none':
      io.err(shortUsage());
      return 2;
    case 'help':
      io.out(usageFor(line.path) ?? USAGE);
      return 0;
    case 'version':
      io.out(line.json ? JSON.stringify({ version: version() }) : version());
      return 0;
    case 'run':
      break;
  }
  const { command, values } = line;
  const [name, ...rest] = line.positionals;
  const handler = HANDLERS[name!];
  if (!handler) throw new Error(`cli/main.ts: no handler for ${command.path.join(' ')}`);
  try {
    const settings = loadSettings({ configFile: typeof values.config === 'string' ? values.config : undefined });
    // The server logs to stdout; other commands keep stdout for their output and log errors to stderr.
    const logger =
      name === 'serve'
        ? createLogger(settings.logLevel, io.logDestination)
        : createLogger('error', io.logDestination ?? pino.destination(2));
    return await handler({ settings, logger, values, positionals: rest, io });
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message} (see latchkey ${command.path.join(' ')} --help)`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof RegistryError) {
      if (values.json) io.out(JSON.stringify({ error: err instanceof RegistryError ? err.code : 'config', message: err.message }));
      io.err(`error: ${err.message}`);
      return 1;
    }
    io.err(`error: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
}

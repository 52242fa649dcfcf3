import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './config/defaults.ts';
import { loadConfigFile } from './config/load.ts';
import { ConfigError } from './config/parse.ts';
import { createGateway } from './gateway.ts';
import { generatePrivateJwk } from './lib/signing-key.ts';

const USAGE = `Usage:
  latchkey-gateway --config FILE [--no-watch]   run the gateway (FILE: .yaml, .yml or .json)
  latchkey-gateway --config FILE --check        check the configuration and exit
  latchkey-gateway keygen [--alg ES256] [--out FILE]
                                                write a private signing key (JWK) for signing.keyFile

The configuration is reloaded when FILE changes, and on SIGHUP; a file with mistakes
keeps the previous routes. SIGINT and SIGTERM stop the gateway gracefully.`;

/** The CLI; resolves to the exit code (when serving, once the gateway is listening). */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'keygen') return keygen(argv.slice(1));
  let values: { config?: string; check?: boolean; watch?: boolean; 'no-watch'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        check: { type: 'boolean' },
        'no-watch': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`--config is required\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const { config, file } = loadConfigFile(values.config);
    if (values.check) {
      // The full check: what the running gateway would build (validators, scopes, the signing key).
      const gateway = await createGateway(config, { logLevel: 'silent' });
      await gateway.close();
      process.stdout.write(`${file}: OK (${config.routes.length} route${config.routes.length === 1 ? '' : 's'})\n`);
      return 0;
    }
    const gateway = await createGateway(config, { configFile: file, watch: !values['no-watch'] });
    await gateway.listen();
    process.on('SIGHUP', () => void gateway.reload());
    const stop = (signal: string) => {
      gateway.logger.info({ signal }, 'stopping');
      gateway.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop).once('SIGTERM', stop);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    process.stderr.write(`latchkey-gateway: ${(err as Error).message}\n`);
    return 1;
  }
}

async function keygen(argv: string[]): Promise<number> {
  let values: { alg?: string; out?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { alg: { type: 'string' }, out: { type: 'string' } }, strict: true }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const alg = values.alg ?? 'ES256';
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    process.stderr.write(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')}\n`);
    return 2;
  }
  const jwk = `${JSON.stringify(await generatePrivateJwk(alg as SigningAlgorithm), null, 2)}\n`;
  if (values.out === undefined) {
    process.stdout.write(jwk);
    return 0;
  }
  try {
    // The private key: readable by its owner only, and never overwritten by accident.
    writeFileSync(values.out, jwk, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    process.stderr.write(code === 'EEXIST' ? `${values.out} exists: not overwritten\n` : `cannot write ${values.out}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`wrote ${values.out}\n`);
  return 0;
}

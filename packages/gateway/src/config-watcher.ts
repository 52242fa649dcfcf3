import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { GatewayConfig } from './config/defaults.ts';
import { loadConfigFile } from './config/load.ts';
import { ConfigError } from './config/parse.ts';
import { buildState, logWarnings, type Runtime, type State } from './state.ts';

const WATCH_DEBOUNCE_MS = 250;

/**
 * Reloads of the configuration file (reload(), SIGHUP, or the file changing when watched): a good file
 * swaps the state in one assignment; a bad one keeps the current routes, and says why.
 */
export class ConfigReloader {
  private lastDigest: string | undefined;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;

  private readonly runtime: Runtime;
  private readonly file: string | undefined;
  private readonly swap: { get(): State; set(state: State): void };

  constructor(
    runtime: Runtime,
    file: string | undefined,
    swap: { get(): State; set(state: State): void },
  ) {
    this.runtime = runtime;
    this.file = file;
    this.swap = swap;
  }

  /** Reads the file again; `onlyIfChanged` skips a file whose content is the same as last time. */
  async reload(onlyIfChanged = false): Promise<boolean> {
    if (this.file === undefined) throw new Error('the gateway was not started from a configuration file');
    let config: GatewayConfig;
    try {
      const loaded = loadConfigFile(this.file);
      const digest = createHash('sha256').update(loaded.text).digest('hex');
      if (onlyIfChanged && digest === this.lastDigest) return true;
      this.lastDigest = digest;
      config = loaded.config;
    } catch (err) {
      return this.failed(err);
    }
    return this.apply(config);
  }

  /** Reloads when the file changes: the directory is watched, since editors replace files by renaming. */
  watch(debounceMs = WATCH_DEBOUNCE_MS): void {
    const file = this.file;
    if (file === undefined) return;
    try {
      this.lastDigest = createHash('sha256').update(loadConfigFile(file).text).digest('hex');
    } catch {
      this.lastDigest = undefined;
    }
    this.watcher = watch(dirname(file), (_event, name) => {
      if (name !== null && name !== basename(file)) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.reload(true), debounceMs);
    });
    this.watcher.on('error', (err) => this.runtime.logger.error({ err: err.message }, 'watching the configuration file failed; SIGHUP still reloads'));
  }

  close(): void {
    this.watcher?.close();
    clearTimeout(this.debounce);
  }

  private apply(config: GatewayConfig): boolean {
    const { logger, metrics } = this.runtime;
    let next: State;
    try {
      next = buildState(this.runtime, config, this.swap.get());
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return this.failed(err);
    }
    const previous = this.swap.get().config;
    if (JSON.stringify(config.listen) !== JSON.stringify(previous.listen)) logger.warn('listen changed: it takes effect at the next restart');
    if (JSON.stringify(config.signing) !== JSON.stringify(previous.signing)) logger.warn('signing changed: it takes effect at the next restart');
    for (const option of ['headersTimeoutSeconds', 'requestTimeoutSeconds', 'keepAliveTimeoutSeconds'] as const) {
      if (config[option] !== previous[option]) logger.warn(`${option} changed: it takes effect at the next restart`);
    }
    if (config.upstreamTimeoutSeconds !== previous.upstreamTimeoutSeconds) {
      logger.warn('upstreamTimeoutSeconds changed: response timeouts apply now, connect timeouts at the next restart');
    }
    this.swap.set(next);
    metrics.configReloads.inc({ result: 'success' });
    logWarnings(logger, config);
    logger.info({ routes: next.table.size }, 'configuration reloaded');
    return true;
  }

  private failed(err: unknown): false {
    this.runtime.metrics.configReloads.inc({ result: 'failure' });
    const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
    this.runtime.logger.error({ file: this.file, problems }, 'configuration reload failed: keeping the previous routes');
    return false;
  }
}

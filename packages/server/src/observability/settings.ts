import type { Settings } from '../config/defaults.ts';
import { ConfigError } from '../errors.ts';

/** LATCHKEY_METRICS_* and LATCHKEY_OTLP_*: checked when the settings load (config/load.ts). */
export function validateObservabilitySettings(settings: Settings): void {
  if (settings.metricsPort < 0 || settings.metricsPort > 65535) throw new ConfigError('LATCHKEY_METRICS_PORT must be between 0 (off) and 65535');
  // The metrics listener exists so that /metrics is never on the public port.
  if (settings.metricsPort > 0 && (settings.metricsPort === settings.port || settings.metricsPort === settings.mtlsPort)) {
    throw new ConfigError('LATCHKEY_METRICS_PORT must differ from PORT and LATCHKEY_MTLS_PORT');
  }
  // A short token is guessable, whatever the comparison; 32 characters of the output of `openssl rand -hex 16` are enough.
  if (settings.metricsToken !== undefined && (settings.metricsToken.length < 32 || /\s/.test(settings.metricsToken))) {
    throw new ConfigError('LATCHKEY_METRICS_TOKEN must be at least 32 characters, without spaces (e.g. openssl rand -hex 32)');
  }
  if (settings.otlpEndpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(settings.otlpEndpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      throw new ConfigError('LATCHKEY_OTLP_ENDPOINT must be the http(s) base URL of an OTLP collector (traces go to its /v1/traces), without a query or credentials');
    }
  }
  if (settings.otlpServiceName.trim() === '' || settings.otlpServiceName.length > 100) throw new ConfigError('LATCHKEY_OTLP_SERVICE_NAME must be 1-100 characters');
}

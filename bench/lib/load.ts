import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** One body for every request, or a pool that requests cycle through. */
  bodies: string[];
  connections: number;
  durationSeconds: number;
  /** Expected status; any other counts as an error. */
  expectStatus?: number;
  /** Keep every expected response's latency, for percentiles finer than autocannon's whole milliseconds. */
  recordLatencies?: boolean;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  totalRequests: number;
  /** Socket errors, timeouts and responses with an unexpected status. */
  errors: number;
  /** With `recordLatencies`: the time of every expected response, in milliseconds. */
  latenciesMs?: number[];
}

/** Drives one server with autocannon: fixed connections and duration, every request counted. */
export async function drive(options: LoadOptions): Promise<LoadResult> {
  let next = 0;
  const bodies = options.bodies;
  let unexpected = 0;
  const expect = options.expectStatus ?? 200;
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationSeconds,
        method: options.method,
        headers: options.headers,
        requests: [
          {
            method: options.method,
            setupRequest: (req) => {
              if (bodies.length > 0) {
                req.body = bodies[next]!;
                next = (next + 1) % bodies.length;
              }
              return req;
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode !== expect) unexpected++;
      else if (options.recordLatencies) latencies.push(responseTimeMs);
    });
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    totalRequests: result.requests.total,
    errors: result.errors + result.timeouts + unexpected,
    ...(options.recordLatencies ? { latenciesMs: latencies } : {}),
  };
}

/** Nearest-rank percentiles (and the mean) of response times, rounded to the microsecond. */
export function summarizeLatencies(values: number[]): { p50: number; p90: number; p99: number; mean: number } {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN);
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN;
  return { p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), mean: round(mean) };
}

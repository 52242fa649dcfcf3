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
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  totalRequests: number;
  /** Socket errors, timeouts and responses with an unexpected status. */
  errors: number;
}

/** Drives one server with autocannon: fixed connections and duration, every request counted. */
export async function drive(options: LoadOptions): Promise<LoadResult> {
  let next = 0;
  const bodies = options.bodies;
  let unexpected = 0;
  const expect = options.expectStatus ?? 200;
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
    instance.on('response', (_client, statusCode) => {
      if (statusCode !== expect) unexpected++;
    });
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    totalRequests: result.requests.total,
    errors: result.errors + result.timeouts + unexpected,
  };
}

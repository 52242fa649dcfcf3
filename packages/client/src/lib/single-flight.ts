/**
 * One operation in flight at a time per key: callers that arrive while it runs share its promise, and
 * the next caller after it settles starts a new one.
 */
export class SingleFlight<K, T> {
  private readonly inFlight = new Map<K, Promise<T>>();

  run(key: K, operation: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    // Started on a later microtask, so the entry exists before the operation can settle.
    const started: Promise<T> = Promise.resolve()
      .then(operation)
      .finally(() => {
        if (this.inFlight.get(key) === started) this.inFlight.delete(key);
      });
    this.inFlight.set(key, started);
    return started;
  }
}

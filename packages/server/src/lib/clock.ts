/** The time in whole seconds since the epoch: the unit of every `exp`, `iat` and stored time. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * The parameters of the Bearer challenge in a WWW-Authenticate header (RFC 6750 §3, RFC 9110 §11.6.1),
 * or undefined when there is none. A header may hold several challenges, each a scheme followed by
 * comma-separated `name=value` or `name="quoted value"` parameters.
 */
export function bearerChallenge(header: string | null): Record<string, string> | undefined {
  if (header === null) return undefined;
  let current: Record<string, string> | undefined;
  let bearer: Record<string, string> | undefined;
  let i = 0;
  const skip = (pattern: RegExp) => {
    while (i < header.length && pattern.test(header[i]!)) i++;
  };
  while (i < header.length) {
    skip(/[\s,]/);
    const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(header.slice(i))?.[0];
    if (!token) {
      i++;
      continue;
    }
    i += token.length;
    skip(/[ \t]/);
    if (header[i] === '=' && header[i + 1] !== '=' && current) {
      // auth-param: name=value
      i++;
      skip(/[ \t]/);
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\') i++;
          value += header[i] ?? '';
          i++;
        }
        i++;
      } else {
        value = /^[^\s,]*/.exec(header.slice(i))?.[0] ?? '';
        i += value.length;
      }
      current[token.toLowerCase()] = value;
    } else if (header[i] === '=') {
      // token68 after a scheme (e.g. a Negotiate blob): not a parameter.
      skip(/=/);
    } else {
      // A new challenge's auth-scheme.
      current = {};
      if (token.toLowerCase() === 'bearer' && !bearer) bearer = current;
    }
  }
  return bearer;
}

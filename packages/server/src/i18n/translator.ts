import { escapeHtml } from '../ui/security-headers.ts';
import type { MessageKey, PluralKey } from './catalogs.ts';

/** Values a message's `{name}` placeholders are filled from. */
export type MessageValues = Readonly<Record<string, string | number>>;

/** One language's words: every message key, and how the language is written (docs/languages.md). */
export interface Catalog {
  /** A BCP 47 language tag ("en", "de", "pt-BR"). */
  locale: string;
  /** The text direction of the language's script (the page's `dir`). */
  dir: 'ltr' | 'rtl';
  messages: Readonly<Record<string, string>>;
}

const PLACEHOLDER = /\{([a-z_][a-z0-9_]*)\}/gi;

/**
 * The words of one page or message in one language. Messages are plain text with `{name}`
 * placeholders; `t` fills them as text, `html` escapes the message and inserts values the caller has
 * already made safe (a `<strong>` around an escaped name). A key a catalog lacks falls back to English.
 */
export class Translator {
  readonly locale: string;
  readonly dir: 'ltr' | 'rtl';
  readonly #messages: Readonly<Record<string, string>>;
  readonly #fallback: Readonly<Record<string, string>>;
  readonly #plurals: Intl.PluralRules;
  readonly #dates: Intl.DateTimeFormat;

  constructor(catalog: Catalog, fallback: Catalog) {
    this.locale = catalog.locale;
    this.dir = catalog.dir;
    this.#messages = catalog.messages;
    this.#fallback = fallback.messages;
    this.#plurals = new Intl.PluralRules(catalog.locale);
    // Days in the language's own way ("6 Dec 2026", "06.12.2026"), in UTC as every time Latchkey keeps.
    this.#dates = new Intl.DateTimeFormat(catalog.locale, { dateStyle: 'medium', timeZone: 'UTC' });
  }

  #message(key: string): string {
    if (Object.hasOwn(this.#messages, key)) return this.#messages[key] as string;
    return Object.hasOwn(this.#fallback, key) ? (this.#fallback[key] as string) : key;
  }

  /** The message as text, its placeholders filled with `values` as text. */
  t(key: MessageKey, values?: MessageValues): string {
    const message = this.#message(key);
    if (!values) return message;
    return message.replace(PLACEHOLDER, (whole, name: string) => (Object.hasOwn(values, name) ? String(values[name]) : whole));
  }

  /**
   * The message as HTML: its own words escaped, its placeholders replaced by `html`, which the caller
   * has escaped (for example `<strong>${escapeHtml(name)}</strong>`).
   */
  html(key: MessageKey, html: Readonly<Record<string, string>> = {}): string {
    const message = this.#message(key);
    let out = '';
    let last = 0;
    for (const match of message.matchAll(PLACEHOLDER)) {
      const name = match[1] as string;
      out += escapeHtml(message.slice(last, match.index));
      out += Object.hasOwn(html, name) ? (html[name] as string) : escapeHtml(match[0]);
      last = match.index + match[0].length;
    }
    return out + escapeHtml(message.slice(last));
  }

  /**
   * A message that depends on a number: `{key}.one`, `{key}.other` (and `.zero`, `.two`, `.few`,
   * `.many` where the language has them), chosen by the language's plural rules; `{count}` is the number.
   */
  plural(key: PluralKey, count: number, values?: MessageValues): string {
    const form = this.#plurals.select(count);
    const exact = `${key}.${form}`;
    const chosen = (Object.hasOwn(this.#messages, exact) || Object.hasOwn(this.#fallback, exact) ? exact : `${key}.other`) as MessageKey;
    return this.t(chosen, { count, ...values });
  }

  /** A day (seconds since the epoch) as the language writes it. */
  day(epochSeconds: number): string {
    return this.#dates.format(new Date(epochSeconds * 1000));
  }
}

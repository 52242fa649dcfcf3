import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILT_IN_CATALOGS, ENGLISH } from './catalogs.ts';
import type { Settings } from '../config/defaults.ts';
import { ConfigError } from '../errors.ts';
import { Languages } from './languages.ts';
import type { Catalog } from './translator.ts';

const PLACEHOLDER = /\{([a-z_][a-z0-9_]*)\}/gi;

function placeholders(message: string): Set<string> {
  return new Set([...message.matchAll(PLACEHOLDER)].map((m) => m[1] as string));
}

/** How a language's script runs, from the runtime's locale data (Intl.Locale text info). */
export function textDirection(locale: string): 'ltr' | 'rtl' {
  const intl = new Intl.Locale(locale) as Intl.Locale & { getTextInfo?: () => { direction?: string }; textInfo?: { direction?: string } };
  const info = intl.getTextInfo?.() ?? intl.textInfo;
  return info?.direction === 'rtl' ? 'rtl' : 'ltr';
}

/**
 * Checks one catalog against the English one: every key is one Latchkey has, every value a string
 * whose placeholders the English message also has (a misspelt `{nmae}` would show as typed).
 */
export function checkCatalog(name: string, messages: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(messages)) {
    // The operator's own messages, for their layout (docs/theming.md): any text, no placeholders.
    if (key.startsWith('custom.')) {
      if (typeof value !== 'string') problems.push(`${name}: "${key}" must be a string`);
      continue;
    }
    const english = Object.hasOwn(ENGLISH.messages, key) ? ENGLISH.messages[key] : undefined;
    if (english === undefined) {
      problems.push(`${name}: "${key}" is not a message Latchkey has`);
      continue;
    }
    if (typeof value !== 'string') {
      problems.push(`${name}: "${key}" must be a string`);
      continue;
    }
    const known = placeholders(english);
    const used = placeholders(value);
    for (const p of used) if (!known.has(p)) problems.push(`${name}: "${key}" uses {${p}}, which it is not given (it has ${[...known].map((k) => `{${k}}`).join(', ') || 'none'})`);
    // Every placeholder stays: a translation without {host} or {client} would hide from the user what
    // the English shows (which application, where the browser goes). Only a plural's singular forms may
    // spell their number out ("one second").
    const singular = /\.(zero|one|two)$/.test(key);
    for (const p of known) if (!used.has(p) && !singular) problems.push(`${name}: "${key}" must keep {${p}}`);
  }
  return problems;
}

/**
 * The languages with the operator's words (docs/languages.md): each LATCHKEY_THEME_DIR/messages/<tag>.json
 * changes messages of a built-in language or adds a language (whose missing messages are English).
 * Read once at start; any mistake stops the start with every problem listed.
 */
export function loadCatalogs(themeDir: string | undefined): Catalog[] {
  const catalogs = new Map(BUILT_IN_CATALOGS.map((c) => [c.locale, c]));
  const dir = themeDir ? join(themeDir, 'messages') : undefined;
  if (!dir || !existsSync(dir)) return [...catalogs.values()];
  const problems: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const tag = file.slice(0, -'.json'.length);
    let locale: string;
    try {
      [locale] = Intl.getCanonicalLocales(tag) as [string];
    } catch {
      problems.push(`${file}: "${tag}" is not a language tag (BCP 47, such as fr or pt-BR)`);
      continue;
    }
    let messages: unknown;
    try {
      messages = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (err) {
      problems.push(`${file}: not valid JSON (${(err as Error).message})`);
      continue;
    }
    if (typeof messages !== 'object' || messages === null || Array.isArray(messages)) {
      problems.push(`${file}: must be a JSON object of message keys and texts`);
      continue;
    }
    const found = checkCatalog(file, messages as Record<string, unknown>);
    if (found.length > 0) {
      problems.push(...found);
      continue;
    }
    const base = catalogs.get(locale);
    catalogs.set(locale, {
      locale,
      dir: base?.dir ?? textDirection(locale),
      messages: { ...base?.messages, ...(messages as Record<string, string>) },
    });
  }
  if (problems.length > 0) throw new ConfigError(`LATCHKEY_THEME_DIR/messages cannot be used:\n  ${problems.join('\n  ')}`);
  return [...catalogs.values()];
}

/** The languages of this server: the catalogs with the operator's, and the default language checked. */
export function loadLanguages(settings: Pick<Settings, 'themeDir' | 'defaultLocale'>): Languages {
  const catalogs = loadCatalogs(settings.themeDir);
  let locale: string | undefined;
  try {
    [locale] = Intl.getCanonicalLocales(settings.defaultLocale);
  } catch {
    // reported below
  }
  if (locale === undefined || !catalogs.some((c) => c.locale === locale)) {
    throw new ConfigError(`LATCHKEY_DEFAULT_LOCALE must be one of the languages there are messages for: ${catalogs.map((c) => c.locale).join(', ')}`);
  }
  return new Languages(catalogs, locale);
}

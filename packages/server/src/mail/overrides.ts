import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml } from '../ui/security-headers.ts';
import type { MailMessage } from './outbox.ts';

/**
 * An operator's own mail templates: in LATCHKEY_THEME_DIR/mail, `{kind}.subject`, `{kind}.txt` and
 * `{kind}.html` for a kind (`verify-email`, `reset-password`, `invitation`, `email-changed`), each
 * optional (a part not given keeps Latchkey's). A part may also be given per language,
 * `{kind}.{locale}.subject` (`reset-password.de.txt`, `invitation.pt-BR.html`): for a message in that
 * language it is chosen before the language-less file; a message in a regional language (`pt-BR`)
 * without its own file takes its language's (`pt`). `{{name}}` is replaced by the message's value of
 * that name, HTML-escaped in the HTML part; an unknown name is left empty. Read once, at start.
 */
type Parts = { subject?: string; text?: string; html?: string };

/** By kind, then by language tag in lower case (`''`: the language-less files). */
export type MailOverrides = Map<string, Map<string, Parts>>;

/** A message with the language it is written in (mail/templates.ts): its `locale` chooses the operator's files. */
export type MailInLanguage = MailMessage;

const KINDS = ['verify-email', 'reset-password', 'invitation', 'email-changed'] as const;
const EXTENSIONS = { subject: 'subject', txt: 'text', html: 'html' } as const;
/** `{kind}.{ext}` or `{kind}.{locale}.{ext}`, the locale a BCP 47 tag: a language and its subtags. */
const FILE = new RegExp(`^(${KINDS.join('|')})(?:\\.([A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*))?\\.(subject|txt|html)$`);

export function loadMailOverrides(themeDir: string | undefined): MailOverrides {
  const overrides: MailOverrides = new Map();
  if (!themeDir) return overrides;
  const dir = join(themeDir, 'mail');
  if (!existsSync(dir)) return overrides;
  for (const name of readdirSync(dir).sort()) {
    const match = FILE.exec(name);
    if (!match) continue;
    const [, kind, locale, ext] = match as unknown as [string, string, string | undefined, keyof typeof EXTENSIONS];
    const content = readFileSync(join(dir, name), 'utf8');
    const byLocale = overrides.get(kind) ?? new Map<string, Parts>();
    const tag = (locale ?? '').toLowerCase();
    const parts = byLocale.get(tag) ?? {};
    const part = EXTENSIONS[ext];
    parts[part] = part === 'subject' ? content.trim() : content;
    byLocale.set(tag, parts);
    overrides.set(kind, byLocale);
  }
  return overrides;
}

function fill(template: string, vars: Record<string, string>, escape: boolean): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_m, name: string) => {
    const value = Object.hasOwn(vars, name) ? vars[name]! : '';
    return escape ? escapeHtml(value) : value;
  });
}

/** The tags whose files may serve a message in `locale`, best first: the tag, its language, none. */
function candidates(locale: string | undefined): string[] {
  if (!locale) return [''];
  const tag = locale.toLowerCase();
  const language = tag.split('-')[0]!;
  return [...new Set([tag, language, ''])];
}

/** The operator's part for a message: the one of its language, else the language-less one. */
function partFor(byLocale: Map<string, Parts>, locale: string | undefined, part: keyof Parts): string | undefined {
  for (const tag of candidates(locale)) {
    const value = byLocale.get(tag)?.[part];
    if (value !== undefined) return value;
  }
  return undefined;
}

/** The message with the operator's parts in place of Latchkey's, where there are some. */
export function applyMailOverrides(message: MailInLanguage, overrides: MailOverrides): MailMessage {
  const byLocale = overrides.get(message.kind);
  if (!byLocale) return message;
  const vars = message.vars ?? {};
  const subject = partFor(byLocale, message.locale, 'subject');
  const text = partFor(byLocale, message.locale, 'text');
  const html = partFor(byLocale, message.locale, 'html');
  return {
    ...message,
    // A subject is one line: line breaks in a value (or the file) go.
    ...(subject !== undefined ? { subject: fill(subject, vars, false).replace(/[\r\n]+/g, ' ') } : {}),
    ...(text !== undefined ? { text: fill(text, vars, false) } : {}),
    ...(html !== undefined ? { html: fill(html, vars, true) } : {}),
  };
}

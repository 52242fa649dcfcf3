import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml } from '../ui/security-headers.ts';
import type { MailMessage } from './outbox.ts';

/**
 * An operator's own mail templates: in LATCHKEY_THEME_DIR/mail, `{kind}.subject`, `{kind}.txt` and
 * `{kind}.html` for a kind (`verify-email`, `reset-password`, `invitation`, `email-changed`), each
 * optional (a part not given keeps Latchkey's). `{{name}}` is replaced by the message's value of that
 * name, HTML-escaped in the HTML part; an unknown name is left empty. Read once, at start.
 */
export type MailOverrides = Map<string, { subject?: string; text?: string; html?: string }>;

const KINDS = ['verify-email', 'reset-password', 'invitation', 'email-changed'] as const;

export function loadMailOverrides(themeDir: string | undefined): MailOverrides {
  const overrides: MailOverrides = new Map();
  if (!themeDir) return overrides;
  for (const kind of KINDS) {
    const read = (ext: string) => {
      const path = join(themeDir, 'mail', `${kind}.${ext}`);
      return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    };
    const parts = { subject: read('subject')?.trim(), text: read('txt'), html: read('html') };
    if (parts.subject !== undefined || parts.text !== undefined || parts.html !== undefined) overrides.set(kind, parts);
  }
  return overrides;
}

function fill(template: string, vars: Record<string, string>, escape: boolean): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_m, name: string) => {
    const value = Object.hasOwn(vars, name) ? vars[name]! : '';
    return escape ? escapeHtml(value) : value;
  });
}

/** The message with the operator's parts in place of Latchkey's, where there are some. */
export function applyMailOverrides(message: MailMessage, overrides: MailOverrides): MailMessage {
  const parts = overrides.get(message.kind);
  if (!parts) return message;
  const vars = message.vars ?? {};
  return {
    ...message,
    // A subject is one line: line breaks in a value (or the file) go.
    ...(parts.subject !== undefined ? { subject: fill(parts.subject, vars, false).replace(/[\r\n]+/g, ' ') } : {}),
    ...(parts.text !== undefined ? { text: fill(parts.text, vars, false) } : {}),
    ...(parts.html !== undefined ? { html: fill(parts.html, vars, true) } : {}),
  };
}

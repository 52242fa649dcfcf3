import type { Translator } from '../i18n/translator.ts';
import { escapeHtml } from '../ui/security-headers.ts';
import type { MailInLanguage } from './overrides.ts';

/**
 * The messages Latchkey sends, each as plain text and HTML (the same words; the HTML has no image,
 * script or remote resource), in the language of the translator given (the catalogs' `mail.*` keys,
 * i18n/en/mail.ts). The link is the message's only secret. An operator may replace any of them with
 * files in LATCHKEY_THEME_DIR/mail (mail/overrides.ts), per language or for all, filled from each
 * message's `vars`.
 */

interface LinkMail {
  to: string;
  /** Who the message is from, in words: the issuer's host. */
  service: string;
  link: string;
  /** How long the link works, in words (`validFor`: "30 minutes"). */
  validFor: string;
}

/** How long a link works, in the message's language ("30 minutes", "24 Stunden", "7 days"). */
export function validFor(t: Translator, amount: number, unit: 'minutes' | 'hours' | 'days'): string {
  return t.plural(`mail.validFor.${unit}`, amount);
}

const PARAGRAPH = '<p style="margin:0 0 16px;line-height:1.5">';

function html(t: Translator, title: string, paragraphs: string[], button?: { link: string; text: string }): string {
  const body = paragraphs.map((p) => `${PARAGRAPH}${escapeHtml(p)}</p>`).join('\n');
  const action = button
    ? `\n<p style="margin:24px 0"><a href="${escapeHtml(button.link)}" style="display:inline-block;background:#2c4bdb;color:#fff;text-decoration:none;font-weight:600;padding:11px 18px;border-radius:8px">${escapeHtml(button.text)}</a></p>
<p style="margin:0;font-size:13px;color:#616e7c;word-break:break-all">${escapeHtml(button.link)}</p>`
    : '';
  return `<!doctype html>
<html lang="${escapeHtml(t.locale)}" dir="${t.dir}"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="margin:0;padding:24px;background:#f3f5f8;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2933">
<div style="max-width:480px;margin:0 auto;background:#fff;border-radius:12px;padding:32px">
<h1 style="font-size:20px;margin:0 0 16px">${escapeHtml(title)}</h1>
${body}${action}
</div>
</body></html>
`;
}

/** The plain-text body: the title, the paragraphs, and the link where there is one. */
function text(title: string, paragraphs: string[], link?: string): string {
  return `${title}\n\n${paragraphs.join('\n\n')}\n${link !== undefined ? `\n${link}\n` : ''}`;
}

/** Sent to confirm that the user receives mail at an address (verification, or a new address). */
export function verifyEmailMessage(mail: LinkMail, t: Translator): MailInLanguage {
  const values = { service: mail.service, validFor: mail.validFor };
  const title = t.t('mail.verify.title');
  const lines = [t.t('mail.verify.asked', values), t.t('mail.verify.open', values), t.t('mail.verify.notYou')];
  return {
    to: mail.to,
    kind: 'verify-email',
    locale: t.locale,
    vars: { service: mail.service, link: mail.link, valid_for: mail.validFor },
    subject: t.t('mail.verify.subject', values),
    text: text(title, lines, mail.link),
    html: html(t, title, lines, { link: mail.link, text: t.t('mail.verify.button') }),
  };
}

/** Sent after "Forgot password?" for an account with this address. */
export function resetPasswordMessage(mail: LinkMail & { username: string }, t: Translator): MailInLanguage {
  const values = { service: mail.service, validFor: mail.validFor, username: mail.username };
  const title = t.t('mail.reset.title');
  const lines = [t.t('mail.reset.asked', values), t.t('mail.reset.open', values), t.t('mail.reset.notYou')];
  return {
    to: mail.to,
    kind: 'reset-password',
    locale: t.locale,
    vars: { service: mail.service, link: mail.link, valid_for: mail.validFor, username: mail.username },
    subject: t.t('mail.reset.subject', values),
    text: text(title, lines, mail.link),
    html: html(t, title, lines, { link: mail.link, text: t.t('mail.reset.button') }),
  };
}

/** An operator's invitation to create an account (users/signup.ts). */
export function invitationMessage(mail: LinkMail, t: Translator): MailInLanguage {
  const values = { service: mail.service, validFor: mail.validFor };
  const title = t.t('mail.invitation.title');
  const lines = [t.t('mail.invitation.invited', values), t.t('mail.invitation.open', values), t.t('mail.invitation.unexpected')];
  return {
    to: mail.to,
    kind: 'invitation',
    locale: t.locale,
    vars: { service: mail.service, link: mail.link, valid_for: mail.validFor },
    subject: t.t('mail.invitation.subject', values),
    text: text(title, lines, mail.link),
    html: html(t, title, lines, { link: mail.link, text: t.t('mail.invitation.button') }),
  };
}

/** Sent to the old address when the account's address changes: a change the user did not make shows. */
export function emailChangedMessage(mail: { to: string; service: string; username: string; newEmail: string }, t: Translator): MailInLanguage {
  const values = { service: mail.service, username: mail.username, newEmail: mail.newEmail };
  const title = t.t('mail.emailChanged.title');
  const lines = [t.t('mail.emailChanged.changed', values), t.t('mail.emailChanged.notYou')];
  return {
    to: mail.to,
    kind: 'email-changed',
    locale: t.locale,
    vars: { service: mail.service, username: mail.username, new_email: mail.newEmail },
    subject: t.t('mail.emailChanged.subject', values),
    text: text(title, lines),
    html: html(t, title, lines),
  };
}

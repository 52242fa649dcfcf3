import { escapeHtml } from '../ui/security-headers.ts';
import type { MailMessage } from './outbox.ts';

/**
 * The messages Latchkey sends, each as plain text and HTML (the same words; the HTML has no image,
 * script or remote resource). The link is the message's only secret. An operator may replace any of
 * them with files in LATCHKEY_THEME_DIR/mail (mail/overrides.ts), filled from each message's `vars`.
 */

interface LinkMail {
  to: string;
  /** Who the message is from, in words: the issuer's host. */
  service: string;
  link: string;
  /** How long the link works, in words ("30 minutes"). */
  validFor: string;
}

function html(title: string, paragraphs: string[], link: string, button: string): string {
  const body = paragraphs.map((p) => `<p style="margin:0 0 16px;line-height:1.5">${escapeHtml(p)}</p>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="margin:0;padding:24px;background:#f3f5f8;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2933">
<div style="max-width:480px;margin:0 auto;background:#fff;border-radius:12px;padding:32px">
<h1 style="font-size:20px;margin:0 0 16px">${escapeHtml(title)}</h1>
${body}
<p style="margin:24px 0"><a href="${escapeHtml(link)}" style="display:inline-block;background:#2c4bdb;color:#fff;text-decoration:none;font-weight:600;padding:11px 18px;border-radius:8px">${escapeHtml(button)}</a></p>
<p style="margin:0;font-size:13px;color:#616e7c;word-break:break-all">${escapeHtml(link)}</p>
</div>
</body></html>
`;
}

/** Sent to confirm that the user receives mail at an address (verification, or a new address). */
export function verifyEmailMessage(mail: LinkMail): MailMessage {
  const title = 'Confirm your email address';
  const lines = [
    `Someone (hopefully you) asked to use this address for an account at ${mail.service}.`,
    `To confirm it, open the link below. It works once, for ${mail.validFor}.`,
    'If this was not you, ignore this message: the address will not be used.',
  ];
  return {
    to: mail.to,
    kind: 'verify-email',
    vars: { service: mail.service, link: mail.link, valid_for: mail.validFor },
    subject: `${mail.service}: confirm your email address`,
    text: `${title}\n\n${lines.join('\n\n')}\n\n${mail.link}\n`,
    html: html(title, lines, mail.link, 'Confirm my address'),
  };
}

/** Sent after "Forgot password?" for an account with this address. */
export function resetPasswordMessage(mail: LinkMail & { username: string }): MailMessage {
  const title = 'Reset your password';
  const lines = [
    `Someone (hopefully you) asked to reset the password of the account ${mail.username} at ${mail.service}.`,
    `To choose a new password, open the link below. It works once, for ${mail.validFor}. Resetting the password signs the account out everywhere.`,
    'If this was not you, ignore this message: your password stays as it is.',
  ];
  return {
    to: mail.to,
    kind: 'reset-password',
    vars: { service: mail.service, link: mail.link, valid_for: mail.validFor, username: mail.username },
    subject: `${mail.service}: reset your password`,
    text: `${title}\n\n${lines.join('\n\n')}\n\n${mail.link}\n`,
    html: html(title, lines, mail.link, 'Choose a new password'),
  };
}

/** An operator's invitation to create an account (users/signup.ts). */
export function invitationMessage(mail: LinkMail): MailMessage {
  const title = 'You are invited';
  const lines = [
    `You are invited to create an account at ${mail.service}.`,
    `To create it, open the link below. It works once, for ${mail.validFor}.`,
    'If you did not expect this, ignore this message.',
  ];
  return {
    to: mail.to,
    kind: 'invitation',
    vars: { service: mail.service, link: mail.link, valid_for: mail.validFor },
    subject: `${mail.service}: you are invited to create an account`,
    text: `${title}\n\n${lines.join('\n\n')}\n\n${mail.link}\n`,
    html: html(title, lines, mail.link, 'Create my account'),
  };
}

/** Sent to the old address when the account's address changes: a change the user did not make shows. */
export function emailChangedMessage(mail: { to: string; service: string; username: string; newEmail: string }): MailMessage {
  const title = 'Your email address was changed';
  const lines = [
    `The email address of the account ${mail.username} at ${mail.service} is now ${mail.newEmail}; this address is no longer used for it.`,
    'If you did not make this change, reset your password and contact your administrator.',
  ];
  const body = lines.map((p) => `<p style="margin:0 0 16px;line-height:1.5">${escapeHtml(p)}</p>`).join('\n');
  return {
    to: mail.to,
    kind: 'email-changed',
    vars: { service: mail.service, username: mail.username, new_email: mail.newEmail },
    subject: `${mail.service}: your email address was changed`,
    text: `${title}\n\n${lines.join('\n\n')}\n`,
    html: `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body style="margin:0;padding:24px;background:#f3f5f8;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2933">\n<div style="max-width:480px;margin:0 auto;background:#fff;border-radius:12px;padding:32px">\n<h1 style="font-size:20px;margin:0 0 16px">${escapeHtml(title)}</h1>\n${body}\n</div>\n</body></html>\n`,
  };
}

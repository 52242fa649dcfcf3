/**
 * English: the mail Latchkey sends (mail/templates.ts), each as a subject, a title, paragraphs and a
 * button. `{service}` is the operator's product name or the issuer's host; `{validFor}` is one of the
 * `mail.validFor.*` durations (docs/languages.md, docs/email.md).
 */
export const messages = {
  'mail.verify.subject': '{service}: confirm your email address',
  'mail.verify.title': 'Confirm your email address',
  'mail.verify.asked': 'Someone (hopefully you) asked to use this address for an account at {service}.',
  'mail.verify.open': 'To confirm it, open the link below. It works once, for {validFor}.',
  'mail.verify.notYou': 'If this was not you, ignore this message: the address will not be used.',
  'mail.verify.button': 'Confirm my address',

  'mail.reset.subject': '{service}: reset your password',
  'mail.reset.title': 'Reset your password',
  'mail.reset.asked': 'Someone (hopefully you) asked to reset the password of the account {username} at {service}.',
  'mail.reset.open': 'To choose a new password, open the link below. It works once, for {validFor}. Resetting the password signs the account out everywhere.',
  'mail.reset.notYou': 'If this was not you, ignore this message: your password stays as it is.',
  'mail.reset.button': 'Choose a new password',

  'mail.invitation.subject': '{service}: you are invited to create an account',
  'mail.invitation.title': 'You are invited',
  'mail.invitation.invited': 'You are invited to create an account at {service}.',
  'mail.invitation.open': 'To create it, open the link below. It works once, for {validFor}.',
  'mail.invitation.unexpected': 'If you did not expect this, ignore this message.',
  'mail.invitation.button': 'Create my account',

  'mail.emailChanged.subject': '{service}: your email address was changed',
  'mail.emailChanged.title': 'Your email address was changed',
  'mail.emailChanged.changed': 'The email address of the account {username} at {service} is now {newEmail}; this address is no longer used for it.',
  'mail.emailChanged.notYou': 'If you did not make this change, reset your password and contact your administrator.',

  // How long a link works, in the sentences above ("It works once, for 30 minutes.").
  'mail.validFor.minutes.one': '{count} minute',
  'mail.validFor.minutes.other': '{count} minutes',
  'mail.validFor.hours.one': '{count} hour',
  'mail.validFor.hours.other': '{count} hours',
  'mail.validFor.days.one': '{count} day',
  'mail.validFor.days.other': '{count} days',
} as const;

import type { messages as english } from '../en/mail.ts';

/** Deutsch: die Mails, die Latchkey sendet (mail/templates.ts). */
export const messages: Record<keyof typeof english, string> = {
  'mail.verify.subject': '{service}: Bestätigen Sie Ihre E-Mail-Adresse',
  'mail.verify.title': 'Bestätigen Sie Ihre E-Mail-Adresse',
  'mail.verify.asked': 'Jemand (hoffentlich Sie) möchte diese Adresse für ein Konto bei {service} verwenden.',
  'mail.verify.open': 'Öffnen Sie zum Bestätigen den folgenden Link. Er funktioniert einmal und ist {validFor} lang gültig.',
  'mail.verify.notYou': 'Falls Sie das nicht waren, ignorieren Sie diese Nachricht: Die Adresse wird dann nicht verwendet.',
  'mail.verify.button': 'Meine Adresse bestätigen',

  'mail.reset.subject': '{service}: Setzen Sie Ihr Passwort zurück',
  'mail.reset.title': 'Setzen Sie Ihr Passwort zurück',
  'mail.reset.asked': 'Jemand (hoffentlich Sie) möchte das Passwort des Kontos {username} bei {service} zurücksetzen.',
  'mail.reset.open': 'Öffnen Sie den folgenden Link, um ein neues Passwort zu wählen. Er funktioniert einmal und ist {validFor} lang gültig. Wenn Sie das Passwort zurücksetzen, wird das Konto überall abgemeldet.',
  'mail.reset.notYou': 'Falls Sie das nicht waren, ignorieren Sie diese Nachricht: Ihr Passwort bleibt unverändert.',
  'mail.reset.button': 'Neues Passwort wählen',

  'mail.invitation.subject': '{service}: Sie sind eingeladen, ein Konto zu erstellen',
  'mail.invitation.title': 'Sie sind eingeladen',
  'mail.invitation.invited': 'Sie sind eingeladen, ein Konto bei {service} zu erstellen.',
  'mail.invitation.open': 'Öffnen Sie dazu den folgenden Link. Er funktioniert einmal und ist {validFor} lang gültig.',
  'mail.invitation.unexpected': 'Falls Sie diese Einladung nicht erwartet haben, ignorieren Sie diese Nachricht.',
  'mail.invitation.button': 'Mein Konto erstellen',

  'mail.emailChanged.subject': '{service}: Ihre E-Mail-Adresse wurde geändert',
  'mail.emailChanged.title': 'Ihre E-Mail-Adresse wurde geändert',
  'mail.emailChanged.changed': 'Die E-Mail-Adresse des Kontos {username} bei {service} ist jetzt {newEmail}; diese Adresse wird dafür nicht mehr verwendet.',
  'mail.emailChanged.notYou': 'Falls Sie diese Änderung nicht vorgenommen haben, setzen Sie Ihr Passwort zurück und wenden Sie sich an Ihre Administration.',

  'mail.validFor.minutes.one': '{count} Minute',
  'mail.validFor.minutes.other': '{count} Minuten',
  'mail.validFor.hours.one': '{count} Stunde',
  'mail.validFor.hours.other': '{count} Stunden',
  'mail.validFor.days.one': '{count} Tag',
  'mail.validFor.days.other': '{count} Tage',
};

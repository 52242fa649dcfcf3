import type { messages as english } from '../en/device.ts';

/** Deutsch: die Bestätigungsseiten des Geräte-Flows. */
export const messages: Record<keyof typeof english, string> = {
  'device.title': 'Gerät verbinden',
  'device.signedInAs': 'Angemeldet als {username}',
  'device.enterCode': 'Geben Sie den Code ein, den Ihr Gerät anzeigt.',
  'device.code': 'Code',
  'device.codePlaceholder': 'XXXX-XXXX',
  'device.continue': 'Weiter',
  'device.loginClient': 'Anmeldung eines Geräts',
  'device.consent.heading': '{client} auf einem Gerät möchte auf Ihr Konto zugreifen',
  'device.consent.compare': 'Prüfen Sie, ob Ihr Gerät den Code {code} anzeigt. Wenn nicht, lehnen Sie ab.',
  'device.allowed.title': 'Gerät verbunden',
  'device.allowed.text': 'Sie können zu Ihrem Gerät zurückkehren; es fährt von selbst fort.',
  'device.denied.title': 'Anfrage abgelehnt',
  'device.denied.text': 'Das Gerät hat keinen Zugriff erhalten. Sie können dieses Fenster schließen.',
  'device.tooManyCodes': 'Zu viele falsche Codes. Warten Sie einige Minuten und versuchen Sie es dann erneut.',
  'device.wrongCode': 'Dieser Code ist ungültig. Prüfen Sie den Code auf Ihrem Gerät; Codes laufen nach 10 Minuten ab.',
  'device.formExpired': 'Das Formular ist abgelaufen. Bitte geben Sie den Code erneut ein.',
  'device.chooseDecision': 'Wählen Sie „Zulassen“ oder „Ablehnen“.',
  'device.secondFactor.title': 'Bestätigung in zwei Schritten erforderlich',
  'device.secondFactor.text': 'Für diese Anmeldung ist eine Bestätigung in zwei Schritten nötig. Richten Sie auf Ihrer Kontoseite ({account}) eine Authenticator-App ein und geben Sie den Code dann erneut ein.',
  'device.passkey.title': 'Passkey erforderlich',
  'device.passkey.text': 'Für diese Anmeldung ist ein Passkey nötig. Melden Sie sich ab, melden Sie sich dann mit Ihrem Passkey an (fügen Sie auf Ihrer Kontoseite, {account}, einen hinzu) und geben Sie den Code erneut ein.',
};

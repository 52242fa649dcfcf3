import type { Translator } from '../i18n/translator.ts';
import { alert, hiddenFields, layout, passkeyForm, type HiddenFields, type PasskeyFormView } from './pages.ts';
import { escapeHtml } from './security-headers.ts';

/** The second step of a sign-in: the code of the user's authenticator app (RFC 6238). */
export interface OtpPage {
  t: Translator;
  assetsPath: string;
  action: string;
  csrfToken: string;
  carried: HiddenFields;
  username: string;
  error?: string;
  /** False: the user has passkeys only, so there is no code to enter. Default true. */
  totp?: boolean;
  /** "Use a passkey": the user's passkeys as the second step, and the nonce of the script. */
  passkey?: { form: PasskeyFormView; scriptNonce: string };
}

export function otpPage(page: OtpPage): string {
  const { t } = page;
  const passkey = page.passkey ? passkeyForm(page.passkey.form) : '';
  const title = t.t('otp.title');
  const who = `<h1>${escapeHtml(title)}</h1>
<p class="who">${escapeHtml(t.t('otp.signedInAs', { username: page.username }))}</p>`;
  if (page.totp === false) {
    return layout(
      t,
      page.assetsPath,
      title,
      `${who}
<p>${escapeHtml(t.t('otp.confirmWithPasskey'))}</p>
${alert(page.error)}
${passkey}`,
      page.passkey?.scriptNonce,
    );
  }
  return layout(
    t,
    page.assetsPath,
    title,
    `${who}
<p>${escapeHtml(t.t('otp.enterCode'))}</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<label for="code">${escapeHtml(t.t('otp.code'))}</label>
<input type="text" id="code" name="code" class="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus>
<div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('otp.verify'))}</button></div>
</form>
<details class="recovery">
<summary>${escapeHtml(t.t('otp.lostPhone'))}</summary>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<label for="recovery-code">${escapeHtml(t.t('otp.recoveryCode'))}</label>
<input type="text" id="recovery-code" name="code" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="40" required>
<div class="actions"><button type="submit" class="secondary">${escapeHtml(t.t('otp.useRecoveryCode'))}</button></div>
</form>
</details>${passkey ? `\n<div class="or" role="separator"><span>${escapeHtml(t.t('page.or'))}</span></div>\n${passkey}` : ''}`,
    page.passkey?.scriptNonce,
  );
}

/** The account page (`/account`): who is signed in, and their sign-in methods. */
export interface AccountPage {
  t: Translator;
  assetsPath: string;
  /** The account page's own path, the forms' actions are under it. */
  accountPath: string;
  csrfToken: string;
  user: { username: string; name: string | null; email: string | null; emailVerified?: boolean };
  /** The upstream providers the user signs in with (federation/accounts.ts). */
  links?: { providerId: string; displayName: string; email: string | null; lastUsedAt: number }[];
  /** Mail is configured: the address can be confirmed and changed from here. */
  mail?: boolean;
  totp: { enabled: boolean; since?: number };
  /** Where the user is signed in: each session's browser, address and last use; `ref` names it in the form. */
  sessions?: { ref: string; browser: string; address: string | null; lastSeenAt: number; current: boolean }[];
  /** The applications the user let in: name, last sign-in; `clientId` names it in the form. */
  applications?: { clientId: string; name: string; lastGrantAt: number; scopes: string[] }[];
  /** The user's passkeys, and the form that adds one (with its script's nonce). */
  passkeys?: {
    list: { id: string; name: string; createdAt: number; lastUsedAt: number | null; synced: boolean; counterRegressedAt: number | null }[];
    add: PasskeyFormView;
    scriptNonce: string;
  };
  /** The user's recovery codes, when the authenticator app is on. */
  recovery?: { remaining: number; total: number; lastUsedAt: number | null };
  notice?: string;
  error?: string;
}

export function accountPage(page: AccountPage): string {
  const { t, user, totp } = page;
  const form = (path: string, label: string, kind: 'primary' | 'secondary') => `<form method="post" action="${escapeHtml(`${page.accountPath}${path}`)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<div class="actions"><button type="submit" class="${kind}">${escapeHtml(label)}</button></div>
</form>`;
  const totpText = !totp.enabled
    ? t.t('account.totp.disabled')
    : totp.since === undefined
      ? t.t('account.totp.enabled')
      : t.t('account.totp.enabledSince', { day: t.day(totp.since) });
  return layout(
    t,
    page.assetsPath,
    t.t('account.title'),
    `<h1>${escapeHtml(t.t('account.title'))}</h1>
${page.notice ? `<p class="notice" role="status">${escapeHtml(page.notice)}</p>` : ''}${alert(page.error)}
<dl class="profile">
<dt>${escapeHtml(t.t('account.profile.username'))}</dt><dd>${escapeHtml(user.username)}</dd>
${user.name ? `<dt>${escapeHtml(t.t('account.profile.name'))}</dt><dd>${escapeHtml(user.name)}</dd>\n` : ''}${
      user.email
        ? `<dt>${escapeHtml(t.t('account.profile.email'))}</dt><dd>${escapeHtml(user.email)} <span class="status${user.emailVerified ? ' on' : ''}">${escapeHtml(t.t(user.emailVerified ? 'account.profile.confirmed' : 'account.profile.notConfirmed'))}</span></dd>\n`
        : ''
    }</dl>
${page.mail ? emailSection(t, page.accountPath, page.csrfToken, user) : ''}
<section class="factor" aria-labelledby="totp-heading">
<h2 id="totp-heading">${escapeHtml(t.t('account.totp.heading'))} <span class="status${totp.enabled ? ' on' : ''}">${escapeHtml(t.t(totp.enabled ? 'account.totp.on' : 'account.totp.off'))}</span></h2>
<p>${escapeHtml(totpText)}</p>
${totp.enabled ? form('/totp/remove', t.t('account.totp.turnOff'), 'secondary') : form('/totp', t.t('account.totp.setUp'), 'primary')}
</section>
${page.passkeys ? passkeysSection(t, page.passkeys, `${page.accountPath}/passkeys/remove`, page.csrfToken) : ''}
${totp.enabled && page.recovery ? recoverySection(t, page.recovery, form('/recovery-codes', t.t('account.recovery.newCodes'), 'secondary')) : ''}
${page.links && page.links.length > 0 ? linksSection(t, page.links, `${page.accountPath}/links/remove`, page.csrfToken) : ''}
${passwordSection(t, `${page.accountPath}/password`, page.csrfToken)}
${page.sessions ? sessionsSection(t, page.sessions, `${page.accountPath}/sessions/end`, page.csrfToken) : ''}
${page.applications ? applicationsSection(t, page.applications, `${page.accountPath}/applications/remove`, page.csrfToken) : ''}
${form('/logout', t.t('account.signOut'), 'secondary')}`,
    page.passkeys?.scriptNonce,
  );
}

/** The user's passkeys: each named, with when it was added and last used; any can be removed. */
function passkeysSection(t: Translator, passkeys: NonNullable<AccountPage['passkeys']>, removeAction: string, csrf: string): string {
  const items = passkeys.list
    .map(
      (p) => `<li><span class="what">${escapeHtml(p.name)} <span class="status">${escapeHtml(t.t(p.synced ? 'account.passkeys.synced' : 'account.passkeys.thisDevice'))}</span></span>
<span class="muted">${escapeHtml(t.t('account.passkeys.added', { day: t.day(p.createdAt) }))} · ${escapeHtml(
        p.lastUsedAt === null ? t.t('account.passkeys.neverUsed') : t.t('account.passkeys.lastUsed', { day: t.day(p.lastUsedAt) }),
      )}</span>${
        p.counterRegressedAt === null ? '' : `\n<span class="alert" role="alert">${escapeHtml(t.t('account.passkeys.copied', { day: t.day(p.counterRegressedAt) }))}</span>`
      }
<form method="post" action="${escapeHtml(removeAction)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><input type="hidden" name="passkey" value="${escapeHtml(p.id)}"><button type="submit" class="secondary small">${escapeHtml(t.t('account.remove'))}</button></form></li>`,
    )
    .join('\n');
  const some = passkeys.list.length > 0;
  return `<section class="factor" aria-labelledby="passkeys-heading">
<h2 id="passkeys-heading">${escapeHtml(t.t('account.passkeys.heading'))} <span class="status${some ? ' on' : ''}">${some ? `${passkeys.list.length}` : escapeHtml(t.t('account.passkeys.none'))}</span></h2>
<p>${escapeHtml(t.t(some ? 'account.passkeys.some' : 'account.passkeys.intro'))}</p>
${some ? `<ul class="scopes passkeys">\n${items}\n</ul>\n` : ''}${passkeyForm(passkeys.add)}
</section>`;
}

/** The other providers the user signs in with; each link can be removed. */
function linksSection(t: Translator, links: NonNullable<AccountPage['links']>, action: string, csrf: string): string {
  const items = links
    .map(
      (l) => `<li><span class="what">${escapeHtml(l.displayName)}</span>
<span class="muted">${l.email ? `${escapeHtml(l.email)} · ` : ''}${escapeHtml(t.t('account.links.lastUsed', { day: t.day(l.lastUsedAt) }))}</span>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><input type="hidden" name="provider" value="${escapeHtml(l.providerId)}"><button type="submit" class="secondary small">${escapeHtml(t.t('account.remove'))}</button></form></li>`,
    )
    .join('\n');
  return `<section class="factor" aria-labelledby="links-heading">
<h2 id="links-heading">${escapeHtml(t.t('account.links.heading'))}</h2>
<p>${escapeHtml(t.t('account.links.intro'))}</p>
<ul class="scopes sessions">
${items}
</ul>
</section>`;
}

/** Confirming the address, and changing it (the new one is used once its link is followed). */
function emailSection(t: Translator, accountPath: string, csrf: string, user: AccountPage['user']): string {
  const confirm =
    user.email && !user.emailVerified
      ? `<form method="post" action="${escapeHtml(`${accountPath}/email/verify`)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('account.email.sendConfirmation'))}</button></div></form>\n`
      : '';
  return `<section class="factor" aria-labelledby="email-heading">
<h2 id="email-heading">${escapeHtml(t.t('account.email.heading'))}</h2>
${confirm}<form method="post" action="${escapeHtml(`${accountPath}/email`)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}">
<label for="new-email">${escapeHtml(t.t(user.email ? 'account.email.newAddress' : 'account.email.address'))}</label>
<input type="email" id="new-email" name="email" autocomplete="email" maxlength="254" required>
<p class="muted">${escapeHtml(t.t('account.email.help'))}</p>
<div class="actions"><button type="submit" class="secondary">${escapeHtml(t.t(user.email ? 'account.email.change' : 'account.email.add'))}</button></div>
</form>
</section>`;
}

/** Password change: the current password is required (a session left open is not enough). */
function passwordSection(t: Translator, action: string, csrf: string): string {
  return `<section class="factor" aria-labelledby="password-heading">
<h2 id="password-heading">${escapeHtml(t.t('account.password.heading'))}</h2>
<p>${escapeHtml(t.t('account.password.intro'))}</p>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}">
<label for="current-password">${escapeHtml(t.t('account.password.current'))}</label>
<input type="password" id="current-password" name="current_password" autocomplete="current-password" required>
<label for="new-password">${escapeHtml(t.t('account.password.new'))}</label>
<input type="password" id="new-password" name="new_password" autocomplete="new-password" minlength="8" required>
<div class="actions"><button type="submit" class="secondary">${escapeHtml(t.t('account.password.change'))}</button></div>
</form>
</section>`;
}

/** Where the user is signed in; every other session can be ended from here. */
function sessionsSection(t: Translator, sessions: NonNullable<AccountPage['sessions']>, action: string, csrf: string): string {
  const items = sessions
    .map(
      (s) => `<li><span class="what">${escapeHtml(s.browser)}${s.current ? ` <span class="status on">${escapeHtml(t.t('account.sessions.thisBrowser'))}</span>` : ''}</span>
<span class="muted">${escapeHtml(s.address ?? t.t('account.sessions.addressUnknown'))} · ${escapeHtml(t.t('account.sessions.lastActive', { day: t.day(s.lastSeenAt) }))}</span>${
        s.current
          ? ''
          : `
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><input type="hidden" name="session" value="${escapeHtml(s.ref)}"><button type="submit" class="secondary small">${escapeHtml(t.t('account.signOut'))}</button></form>`
      }</li>`,
    )
    .join('\n');
  const others = sessions.some((s) => !s.current)
    ? `
<form method="post" action="${escapeHtml(`${action}-others`)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><div class="actions"><button type="submit" class="secondary">${escapeHtml(t.t('account.sessions.signOutOthers'))}</button></div></form>`
    : '';
  return `<section class="factor" aria-labelledby="sessions-heading">
<h2 id="sessions-heading">${escapeHtml(t.t('account.sessions.heading'))}</h2>
<ul class="scopes sessions">
${items}
</ul>${others}
</section>`;
}

/** The applications the user let in; removing one revokes every token it holds for the user. */
function applicationsSection(t: Translator, applications: NonNullable<AccountPage['applications']>, action: string, csrf: string): string {
  const items = applications
    .map(
      (a) => `<li><span class="what">${escapeHtml(a.name)}</span>
<span class="muted">${escapeHtml(t.t('account.applications.lastSignedIn', { day: t.day(a.lastGrantAt) }))}${
        a.scopes.length > 0 ? ` · ${t.html('account.applications.canUse', { scopes: a.scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(' ') })}` : ''
      }</span>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><input type="hidden" name="client_id" value="${escapeHtml(a.clientId)}"><button type="submit" class="secondary small">${escapeHtml(t.t('account.applications.remove'))}</button></form></li>`,
    )
    .join('\n');
  return `<section class="factor" aria-labelledby="applications-heading">
<h2 id="applications-heading">${escapeHtml(t.t('account.applications.heading'))}</h2>
${
  applications.length === 0
    ? `<p>${escapeHtml(t.t('account.applications.none'))}</p>`
    : `<p>${escapeHtml(t.t('account.applications.intro'))}</p>\n<ul class="scopes applications">\n${items}\n</ul>`
}
</section>`;
}

/** How many recovery codes are left, and, when one was used, when: a use the user did not make is a warning. */
function recoverySection(t: Translator, recovery: { remaining: number; total: number; lastUsedAt: number | null }, newCodesForm: string): string {
  const used =
    recovery.lastUsedAt === null
      ? ''
      : `<p class="alert" role="alert">${escapeHtml(t.t('account.recovery.used', { day: t.day(recovery.lastUsedAt) }))}</p>
`;
  return `<section class="factor" aria-labelledby="recovery-heading">
<h2 id="recovery-heading">${escapeHtml(t.t('account.recovery.heading'))}</h2>
${used}<p>${escapeHtml(t.t('account.recovery.left', { remaining: recovery.remaining, total: recovery.total }))}</p>
${newCodesForm}
</section>`;
}

/**
 * The recovery codes, shown once: after setting up the app, or when the user asks for new ones.
 * `doneLabel`: the button's words, already translated (default: "I have saved them").
 */
export function recoveryCodesPage(t: Translator, assetsPath: string, codes: readonly string[], donePath: string, doneLabel = t.t('account.recoveryCodes.saved')): string {
  return layout(
    t,
    assetsPath,
    t.t('account.recoveryCodes.title'),
    `<h1>${escapeHtml(t.t('account.recoveryCodes.title'))}</h1>
<p>${t.html('account.recoveryCodes.keepSafe', { shownOnce: `<strong>${escapeHtml(t.t('account.recoveryCodes.shownOnce'))}</strong>` })}</p>
<ol class="recovery-codes">
${codes.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('\n')}
</ol>
<div class="actions"><a class="button primary" href="${escapeHtml(donePath)}">${escapeHtml(doneLabel)}</a></div>`,
  );
}

/** Setting up an authenticator app: the QR code, the secret as text, and the first code to confirm. */
export interface TotpSetupPage {
  t: Translator;
  assetsPath: string;
  action: string;
  /** Where Cancel goes; none: no Cancel (a sign-in that needs the second factor to go on). */
  cancelPath?: string;
  csrfToken: string;
  /** Hidden fields the form carries (an authorization request being signed in for). */
  carried?: HiddenFields;
  /** Why the app is set up now, above the steps (an application asked for two factors), translated. */
  reason?: string;
  /** The QR code as SVG markup, drawn by the server (users/totp.ts). */
  qrSvg: string;
  secret: string;
  error?: string;
}

export function totpSetupPage(page: TotpSetupPage): string {
  const { t } = page;
  // Groups of four, as authenticator apps show keys typed by hand.
  const grouped = page.secret.replace(/(.{4})(?=.)/g, '$1 ');
  return layout(
    t,
    page.assetsPath,
    t.t('account.totpSetup.title'),
    `<h1>${escapeHtml(t.t('account.totpSetup.title'))}</h1>
${page.reason ? `<p class="notice" role="status">${escapeHtml(page.reason)}</p>\n` : ''}<p>${escapeHtml(t.t('account.totpSetup.scan'))}</p>
<div class="qr" role="img" aria-label="${escapeHtml(t.t('account.totpSetup.qrLabel'))}">${page.qrSvg}</div>
<p class="muted">${escapeHtml(t.t('account.totpSetup.cantScan'))}</p>
<code class="secret" id="secret">${escapeHtml(grouped)}</code>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried ?? {})}
<label for="code">${escapeHtml(t.t('account.totpSetup.enterCode'))}</label>
<input type="text" id="code" name="code" class="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus>
<div class="actions">${
      page.cancelPath !== undefined ? `<a class="secondary button" href="${escapeHtml(page.cancelPath)}">${escapeHtml(t.t('account.totpSetup.cancel'))}</a>` : ''
    }<button type="submit" class="primary">${escapeHtml(t.t('account.totpSetup.turnOn'))}</button></div>
</form>`,
  );
}

/** Changing how one signs in needs a recent sign-in: this page asks for it. */
export function freshSignInPage(t: Translator, assetsPath: string, action: string, csrfToken: string): string {
  return layout(
    t,
    assetsPath,
    t.t('account.freshSignIn.title'),
    `<h1>${escapeHtml(t.t('account.freshSignIn.title'))}</h1>
<p>${escapeHtml(t.t('account.freshSignIn.text'))}</p>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(csrfToken)}">
<div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('account.freshSignIn.submit'))}</button></div>
</form>`,
  );
}

/**
 * A sign-in that must use a passkey (acr_values `phr`, or the passkey policy): the user's passkey, or
 * adding one when they have none.
 */
export interface PasskeyStepPage {
  t: Translator;
  assetsPath: string;
  username: string;
  /** Why: the application that asks (translated). */
  reason: string;
  form: PasskeyFormView;
  scriptNonce: string;
  error?: string;
}

export function passkeyStepPage(page: PasskeyStepPage): string {
  const { t } = page;
  const adding = page.form.mode === 'create';
  const title = t.t(adding ? 'account.passkeyStep.addTitle' : 'account.passkeyStep.useTitle');
  return layout(
    t,
    page.assetsPath,
    title,
    `<h1>${escapeHtml(title)}</h1>
<p class="who">${escapeHtml(t.t('account.passkeyStep.signedInAs', { username: page.username }))}</p>
<p class="notice" role="status">${escapeHtml(page.reason)}</p>
<p>${escapeHtml(t.t(adding ? 'account.passkeyStep.addText' : 'account.passkeyStep.useText'))}</p>
${alert(page.error)}
<noscript><p class="alert">${escapeHtml(t.t('account.passkeyStep.needsScript'))}</p></noscript>
${passkeyForm(page.form)}`,
    page.scriptNonce,
  );
}

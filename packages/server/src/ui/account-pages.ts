import { alert, hiddenFields, layout, passkeyForm, type HiddenFields, type PasskeyFormView } from './pages.ts';
import { escapeHtml } from './security-headers.ts';

/** The second step of a sign-in: the code of the user's authenticator app (RFC 6238). */
export interface OtpPage {
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
  const passkey = page.passkey ? passkeyForm(page.passkey.form) : '';
  if (page.totp === false) {
    return layout(
      page.assetsPath,
      'Two-step verification',
      `<h1>Two-step verification</h1>
<p class="who">Signed in as ${escapeHtml(page.username)}</p>
<p>Confirm it is you with your passkey.</p>
${alert(page.error)}
${passkey}`,
      page.passkey?.scriptNonce,
    );
  }
  return layout(
    page.assetsPath,
    'Two-step verification',
    `<h1>Two-step verification</h1>
<p class="who">Signed in as ${escapeHtml(page.username)}</p>
<p>Enter the 6-digit code from your authenticator app.</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<label for="code">Code</label>
<input type="text" id="code" name="code" class="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus>
<div class="actions"><button type="submit" class="primary">Verify</button></div>
</form>
<details class="recovery">
<summary>Lost your phone? Use a recovery code</summary>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<label for="recovery-code">Recovery code</label>
<input type="text" id="recovery-code" name="code" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="40" required>
<div class="actions"><button type="submit" class="secondary">Use recovery code</button></div>
</form>
</details>${passkey ? `\n<div class="or" role="separator"><span>or</span></div>\n${passkey}` : ''}`,
    page.passkey?.scriptNonce,
  );
}

/** The account page (`/account`): who is signed in, and their sign-in methods. */
export interface AccountPage {
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
  const { user, totp } = page;
  const form = (path: string, label: string, kind: 'primary' | 'secondary') => `<form method="post" action="${escapeHtml(`${page.accountPath}${path}`)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<div class="actions"><button type="submit" class="${kind}">${escapeHtml(label)}</button></div>
</form>`;
  const since = totp.since === undefined ? '' : ` since ${new Date(totp.since * 1000).toISOString().slice(0, 10)}`;
  return layout(
    page.assetsPath,
    'Your account',
    `<h1>Your account</h1>
${page.notice ? `<p class="notice" role="status">${escapeHtml(page.notice)}</p>` : ''}${alert(page.error)}
<dl class="profile">
<dt>Username</dt><dd>${escapeHtml(user.username)}</dd>
${user.name ? `<dt>Name</dt><dd>${escapeHtml(user.name)}</dd>\n` : ''}${user.email ? `<dt>Email</dt><dd>${escapeHtml(user.email)} <span class="status${user.emailVerified ? ' on' : ''}">${user.emailVerified ? 'Confirmed' : 'Not confirmed'}</span></dd>\n` : ''}</dl>
${page.mail ? emailSection(page.accountPath, page.csrfToken, user) : ''}
<section class="factor" aria-labelledby="totp-heading">
<h2 id="totp-heading">Authenticator app <span class="status${totp.enabled ? ' on' : ''}">${totp.enabled ? 'On' : 'Off'}</span></h2>
<p>${
      totp.enabled
        ? `Signing in asks for a code from your authenticator app${escapeHtml(since)}.`
        : 'Add a second step to signing in: a 6-digit code from an authenticator app on your phone.'
    }</p>
${totp.enabled ? form('/totp/remove', 'Turn off', 'secondary') : form('/totp', 'Set up', 'primary')}
</section>
${page.passkeys ? passkeysSection(page.passkeys, `${page.accountPath}/passkeys/remove`, page.csrfToken) : ''}
${totp.enabled && page.recovery ? recoverySection(page.recovery, form('/recovery-codes', 'Get new recovery codes', 'secondary')) : ''}
${page.links && page.links.length > 0 ? linksSection(page.links, `${page.accountPath}/links/remove`, page.csrfToken) : ''}
${passwordSection(`${page.accountPath}/password`, page.csrfToken)}
${page.sessions ? sessionsSection(page.sessions, `${page.accountPath}/sessions/end`, page.csrfToken) : ''}
${page.applications ? applicationsSection(page.applications, `${page.accountPath}/applications/remove`, page.csrfToken) : ''}
${form('/logout', 'Sign out', 'secondary')}`,
    page.passkeys?.scriptNonce,
  );
}

/** The user's passkeys: each named, with when it was added and last used; any can be removed. */
function passkeysSection(passkeys: NonNullable<AccountPage['passkeys']>, removeAction: string, csrf: string): string {
  const items = passkeys.list
    .map(
      (p) => `<li><span class="what">${escapeHtml(p.name)} <span class="status">${p.synced ? 'Synced' : 'This device only'}</span></span>
<span class="muted">added ${escapeHtml(day(p.createdAt))} · ${p.lastUsedAt === null ? 'never used' : `last used ${escapeHtml(day(p.lastUsedAt))}`}</span>${
        p.counterRegressedAt === null ? '' : `\n<span class="alert" role="alert">On ${escapeHtml(day(p.counterRegressedAt))} this passkey answered like a copy of itself. If you did not copy it, remove it.</span>`
      }
<form method="post" action="${escapeHtml(removeAction)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><input type="hidden" name="passkey" value="${escapeHtml(p.id)}"><button type="submit" class="secondary small">Remove</button></form></li>`,
    )
    .join('\n');
  return `<section class="factor" aria-labelledby="passkeys-heading">
<h2 id="passkeys-heading">Passkeys <span class="status${passkeys.list.length > 0 ? ' on' : ''}">${passkeys.list.length > 0 ? `${passkeys.list.length}` : 'None'}</span></h2>
<p>${passkeys.list.length > 0 ? 'Sign in with your device’s screen lock or a security key, without a password; after a password, a passkey also serves as the second step.' : 'Sign in with your device’s screen lock or a security key instead of a password. Passkeys cannot be used on a fake site.'}</p>
${passkeys.list.length > 0 ? `<ul class="scopes passkeys">\n${items}\n</ul>\n` : ''}${passkeyForm(passkeys.add)}
</section>`;
}

/** The other providers the user signs in with; each link can be removed. */
function linksSection(links: NonNullable<AccountPage['links']>, action: string, csrf: string): string {
  const items = links
    .map(
      (l) => `<li><span class="what">${escapeHtml(l.displayName)}</span>
<span class="muted">${l.email ? `${escapeHtml(l.email)} · ` : ''}last used ${escapeHtml(day(l.lastUsedAt))}</span>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><input type="hidden" name="provider" value="${escapeHtml(l.providerId)}"><button type="submit" class="secondary small">Remove</button></form></li>`,
    )
    .join('\n');
  return `<section class="factor" aria-labelledby="links-heading">
<h2 id="links-heading">Sign-in with other accounts</h2>
<p>You can sign in with these. Removing one stops it; your account stays.</p>
<ul class="scopes sessions">
${items}
</ul>
</section>`;
}

/** Confirming the address, and changing it (the new one is used once its link is followed). */
function emailSection(accountPath: string, csrf: string, user: AccountPage['user']): string {
  const confirm =
    user.email && !user.emailVerified
      ? `<form method="post" action="${escapeHtml(`${accountPath}/email/verify`)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><div class="actions"><button type="submit" class="primary">Send a confirmation link</button></div></form>\n`
      : '';
  return `<section class="factor" aria-labelledby="email-heading">
<h2 id="email-heading">Email address</h2>
${confirm}<form method="post" action="${escapeHtml(`${accountPath}/email`)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}">
<label for="new-email">${user.email ? 'New address' : 'Address'}</label>
<input type="email" id="new-email" name="email" autocomplete="email" maxlength="254" required>
<p class="muted">We send a link to the new address; it replaces the current one when you open the link.</p>
<div class="actions"><button type="submit" class="secondary">${user.email ? 'Change address' : 'Add address'}</button></div>
</form>
</section>`;
}

const day = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);

/** Password change: the current password is required (a session left open is not enough). */
function passwordSection(action: string, csrf: string): string {
  return `<section class="factor" aria-labelledby="password-heading">
<h2 id="password-heading">Password</h2>
<p>Changing it signs you out everywhere else.</p>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}">
<label for="current-password">Current password</label>
<input type="password" id="current-password" name="current_password" autocomplete="current-password" required>
<label for="new-password">New password</label>
<input type="password" id="new-password" name="new_password" autocomplete="new-password" minlength="8" required>
<div class="actions"><button type="submit" class="secondary">Change password</button></div>
</form>
</section>`;
}

/** Where the user is signed in; every other session can be ended from here. */
function sessionsSection(sessions: NonNullable<AccountPage['sessions']>, action: string, csrf: string): string {
  const items = sessions
    .map(
      (s) => `<li><span class="what">${escapeHtml(s.browser)}${s.current ? ' <span class="status on">This browser</span>' : ''}</span>
<span class="muted">${escapeHtml(s.address ?? 'address unknown')} · last active ${escapeHtml(day(s.lastSeenAt))}</span>${
        s.current
          ? ''
          : `
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><input type="hidden" name="session" value="${escapeHtml(s.ref)}"><button type="submit" class="secondary small">Sign out</button></form>`
      }</li>`,
    )
    .join('\n');
  const others = sessions.some((s) => !s.current)
    ? `
<form method="post" action="${escapeHtml(`${action}-others`)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><div class="actions"><button type="submit" class="secondary">Sign out all other browsers</button></div></form>`
    : '';
  return `<section class="factor" aria-labelledby="sessions-heading">
<h2 id="sessions-heading">Where you're signed in</h2>
<ul class="scopes sessions">
${items}
</ul>${others}
</section>`;
}

/** The applications the user let in; removing one revokes every token it holds for the user. */
function applicationsSection(applications: NonNullable<AccountPage['applications']>, action: string, csrf: string): string {
  const items = applications
    .map(
      (a) => `<li><span class="what">${escapeHtml(a.name)}</span>
<span class="muted">last signed in ${escapeHtml(day(a.lastGrantAt))}${a.scopes.length > 0 ? ` · can use ${a.scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(' ')}` : ''}</span>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}"><input type="hidden" name="client_id" value="${escapeHtml(a.clientId)}"><button type="submit" class="secondary small">Remove access</button></form></li>`,
    )
    .join('\n');
  return `<section class="factor" aria-labelledby="applications-heading">
<h2 id="applications-heading">Applications with access</h2>
${applications.length === 0 ? '<p>None.</p>' : `<p>Removing one signs it out: its tokens stop working, and it must ask you again.</p>\n<ul class="scopes applications">\n${items}\n</ul>`}
</section>`;
}

/** How many recovery codes are left, and, when one was used, when: a use the user did not make is a warning. */
function recoverySection(recovery: { remaining: number; total: number; lastUsedAt: number | null }, newCodesForm: string): string {
  const used = recovery.lastUsedAt === null ? '' : `<p class="alert" role="alert">A recovery code was used to sign in on ${escapeHtml(day(recovery.lastUsedAt))}. If that was not you, change your password and get new codes.</p>
`;
  return `<section class="factor" aria-labelledby="recovery-heading">
<h2 id="recovery-heading">Recovery codes</h2>
${used}<p>${recovery.remaining} of ${recovery.total} left. Each one signs you in once if your authenticator app is not at hand.</p>
${newCodesForm}
</section>`;
}

/** The recovery codes, shown once: after setting up the app, or when the user asks for new ones. */
export function recoveryCodesPage(assetsPath: string, codes: readonly string[], donePath: string, doneLabel = 'I have saved them'): string {
  return layout(
    assetsPath,
    'Your recovery codes',
    `<h1>Your recovery codes</h1>
<p>Keep these somewhere safe, away from your phone. Each code signs you in once if you lose your authenticator app. <strong>They are shown only now</strong>; earlier codes no longer work.</p>
<ol class="recovery-codes">
${codes.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('\n')}
</ol>
<div class="actions"><a class="button primary" href="${escapeHtml(donePath)}">${escapeHtml(doneLabel)}</a></div>`,
  );
}

/** Setting up an authenticator app: the QR code, the secret as text, and the first code to confirm. */
export interface TotpSetupPage {
  assetsPath: string;
  action: string;
  /** Where Cancel goes; none: no Cancel (a sign-in that needs the second factor to go on). */
  cancelPath?: string;
  csrfToken: string;
  /** Hidden fields the form carries (an authorization request being signed in for). */
  carried?: HiddenFields;
  /** Why the app is set up now, above the steps (an application asked for two factors). */
  reason?: string;
  /** The QR code as SVG markup, drawn by the server (users/totp.ts). */
  qrSvg: string;
  secret: string;
  error?: string;
}

export function totpSetupPage(page: TotpSetupPage): string {
  // Groups of four, as authenticator apps show keys typed by hand.
  const grouped = page.secret.replace(/(.{4})(?=.)/g, '$1 ');
  return layout(
    page.assetsPath,
    'Set up your authenticator app',
    `<h1>Set up your authenticator app</h1>
${page.reason ? `<p class="notice" role="status">${escapeHtml(page.reason)}</p>\n` : ''}<p>Scan this code with your authenticator app (Google Authenticator, 1Password, Authy, ...).</p>
<div class="qr" role="img" aria-label="QR code of your authenticator key">${page.qrSvg}</div>
<p class="muted">Can't scan it? Enter this key in the app instead:</p>
<code class="secret" id="secret">${escapeHtml(grouped)}</code>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried ?? {})}
<label for="code">Then enter the 6-digit code it shows</label>
<input type="text" id="code" name="code" class="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus>
<div class="actions">${page.cancelPath !== undefined ? `<a class="secondary button" href="${escapeHtml(page.cancelPath)}">Cancel</a>` : ''}<button type="submit" class="primary">Turn on</button></div>
</form>`,
  );
}

/** Changing how one signs in needs a recent sign-in: this page asks for it. */
export function freshSignInPage(assetsPath: string, action: string, csrfToken: string): string {
  return layout(
    assetsPath,
    'Sign in again',
    `<h1>Sign in again</h1>
<p>For your safety, changing how you sign in needs a recent sign-in. Sign in again, then try once more.</p>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(csrfToken)}">
<div class="actions"><button type="submit" class="primary">Sign in again</button></div>
</form>`,
  );
}

/**
 * A sign-in that must use a passkey (acr_values `phr`, or the passkey policy): the user's passkey, or
 * adding one when they have none.
 */
export interface PasskeyStepPage {
  assetsPath: string;
  username: string;
  /** Why: the application that asks. */
  reason: string;
  form: PasskeyFormView;
  scriptNonce: string;
  error?: string;
}

export function passkeyStepPage(page: PasskeyStepPage): string {
  const adding = page.form.mode === 'create';
  return layout(
    page.assetsPath,
    adding ? 'Add a passkey' : 'Use your passkey',
    `<h1>${adding ? 'Add a passkey' : 'Use your passkey'}</h1>
<p class="who">Signed in as ${escapeHtml(page.username)}</p>
<p class="notice" role="status">${escapeHtml(page.reason)}</p>
<p>${adding ? 'A passkey signs you in with your device’s screen lock or a security key, and cannot be used on a fake site. Add one now to continue.' : 'Confirm it is you with your passkey to continue.'}</p>
${alert(page.error)}
<noscript><p class="alert">Passkeys need JavaScript in this browser.</p></noscript>
${passkeyForm(page.form)}`,
    page.scriptNonce,
  );
}

import type { MessageKey } from '../i18n/catalogs.ts';
import type { Translator } from '../i18n/translator.ts';
import { escapeHtml } from './security-headers.ts';
import { BRAND_MARK, HEAD_MARK } from './theme.ts';

/**
 * A page's frame, in the user's language (`lang`, `dir`): the stylesheet from our own origin, and no
 * script unless `scriptNonce` is given: then the passkey script (ui/passkey-script.ts), and only it,
 * under that nonce.
 */
export function layout(t: Translator, assetsPath: string, title: string, body: string, scriptNonce?: string): string {
  return `<!doctype html>
<html lang="${escapeHtml(t.locale)}" dir="${t.dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(assetsPath)}/latchkey.css">
${HEAD_MARK}
${scriptNonce ? `<script src="${escapeHtml(assetsPath)}/passkey.js" nonce="${escapeHtml(scriptNonce)}" defer></script>\n` : ''}</head>
<body>
<main>
${BRAND_MARK}
${body}
</main>
</body>
</html>
`;
}

/** Fields a form carries unchanged: one value, or every value of a repeatable parameter (RFC 8707 `resource`). */
export type HiddenFields = Record<string, string | readonly string[]>;

export function hiddenFields(fields: HiddenFields): string {
  return Object.entries(fields)
    .flatMap(([name, value]) => (typeof value === 'string' ? [value] : value).map((v) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(v)}">`))
    .join('\n');
}

export function alert(message: string | undefined): string {
  return message ? `<p class="alert" role="alert">${escapeHtml(message)}</p>` : '';
}

/** A form that runs a WebAuthn ceremony (ui/passkey-script.ts) and posts its result. */
export interface PasskeyFormView {
  t: Translator;
  action: string;
  mode: 'get' | 'create';
  /** PublicKeyCredentialRequestOptionsJSON or PublicKeyCredentialCreationOptionsJSON. */
  options: unknown;
  csrfToken: string;
  carried: HiddenFields;
  label: string;
  kind?: 'primary' | 'secondary';
  /** A field for the passkey's name (adding one on the account page). */
  nameField?: boolean;
}

/** Hidden until the script finds WebAuthn in the browser. */
export function passkeyForm(view: PasskeyFormView): string {
  const name = view.nameField
    ? `<label for="passkey-name">${escapeHtml(view.t.t('page.passkey.name'))}</label>
<input type="text" id="passkey-name" name="name" maxlength="60" placeholder="${escapeHtml(view.t.t('page.passkey.namePlaceholder'))}" autocomplete="off">
`
    : '';
  return `<form method="post" action="${escapeHtml(view.action)}" class="passkey" data-passkey="${view.mode}" data-options="${escapeHtml(JSON.stringify(view.options))}" hidden>
<input type="hidden" name="csrf_token" value="${escapeHtml(view.csrfToken)}">
${hiddenFields(view.carried)}
<input type="hidden" name="credential" value="">
${name}<p class="alert passkey-error" role="alert" hidden>${escapeHtml(view.t.t('page.passkey.error'))}</p>
<div class="actions"><button type="submit" class="${view.kind ?? 'secondary'}">${escapeHtml(view.label)}</button></div>
</form>`;
}

export interface LoginPage {
  /** "Sign in with <provider>" buttons: upstream OpenID providers (federation/). */
  providers?: { name: string; href: string }[];
  /** Where "Create an account" leads (open sign-up); no link without it. */
  signupPath?: string;
  /** Where "Forgot password?" leads (mail is configured); no link without it. */
  forgotPath?: string;
  /** "Sign in with a passkey" (a discoverable credential, no username). */
  passkey?: { form: PasskeyFormView };
  /** The nonce of the page's script (ui/passkey-script.ts): "Show password" and the passkey form. */
  scriptNonce: string;
  t: Translator;
  assetsPath: string;
  action: string;
  clientName: string;
  csrfToken: string;
  carried: HiddenFields;
  username?: string;
  error?: string;
}

/** The separator between ways to sign in. */
function or(t: Translator): string {
  return `<div class="or" role="separator"><span>${escapeHtml(t.t('page.or'))}</span></div>`;
}

export function loginPage(page: LoginPage): string {
  const { t } = page;
  return layout(
    t,
    page.assetsPath,
    t.t('login.title'),
    `<h1>${escapeHtml(t.t('login.title'))}</h1>
<p>${t.html('login.continueTo', { client: `<strong>${escapeHtml(page.clientName)}</strong>` })}</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<label for="username">${escapeHtml(t.t('login.username'))}</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${escapeHtml(page.username ?? '')}">
<label for="password">${escapeHtml(t.t('login.password'))}</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
${showPassword(t, 'password')}
${page.forgotPath ? `<p class="forgot"><a href="${escapeHtml(page.forgotPath)}">${escapeHtml(t.t('login.forgot'))}</a></p>\n` : ''}<div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('login.submit'))}</button></div>
</form>${page.passkey ? `\n${or(t)}\n${passkeyForm(page.passkey.form)}` : ''}${
      page.providers && page.providers.length > 0
        ? `\n${page.passkey ? '' : `${or(t)}\n`}<div class="providers">${page.providers.map((p) => `<a class="button" href="${escapeHtml(p.href)}">${escapeHtml(t.t('login.withProvider', { provider: p.name }))}</a>`).join('')}</div>`
        : ''
    }${page.signupPath ? `\n<p class="muted signup">${t.html('login.newHere', { link: `<a href="${escapeHtml(page.signupPath)}">${escapeHtml(t.t('login.createAccount'))}</a>` })}</p>` : ''}`,
    page.scriptNonce,
  );
}

/**
 * "Show password" for the password field `id`: hidden until the page's script runs
 * (ui/passkey-script.ts), which needs the page's script nonce.
 */
export function showPassword(t: Translator, id: string): string {
  return `<label class="show-password" hidden><input type="checkbox" data-show-password="${escapeHtml(id)}"> ${escapeHtml(t.t('login.showPassword'))}</label>`;
}

export interface ConsentPage {
  t: Translator;
  assetsPath: string;
  action: string;
  clientName: string;
  username: string;
  csrfToken: string;
  carried: HiddenFields;
  scopes: { scope: string; description: string }[];
  /** The APIs (RFC 8707 resources) the application would reach: each one's name and identifier. */
  apis?: { name: string; identifier: string }[];
  /**
   * An application that registered itself: Latchkey does not know who runs it, so the page says so and
   * names it by the host the browser returns to (its redirect URI), its self-chosen name only beside that.
   */
  unverified?: { redirectHost: string; describedBy?: string };
  /** The heading's message, with `{client}` where the client's name goes (default: "{client} wants to access your account"). */
  heading?: MessageKey;
  /** HTML above the scope list (the device page names the code to compare), escaped by the caller. */
  noticeHtml?: string;
}

export function consentPage(page: ConsentPage): string {
  const { t } = page;
  const items = page.scopes
    .map((s) => `<li><span class="what">${escapeHtml(s.description || s.scope)}</span><code>${escapeHtml(s.scope)}</code></li>`)
    .join('\n');
  // An unverified application is named by its redirect host, which it cannot choose freely (the
  // browser really goes there); its display name is whatever it wrote at registration.
  const who = page.unverified ? page.unverified.redirectHost : page.clientName;
  return layout(
    t,
    page.assetsPath,
    t.t('consent.title', { client: who }),
    `<h1>${t.html(page.heading ?? 'consent.wantsAccess', { client: `<strong>${escapeHtml(who)}</strong>` })}</h1>
<p class="who">${escapeHtml(t.t('consent.signedInAs', { username: page.username }))}</p>
${page.unverified ? unverifiedNotice(t, page.clientName, page.unverified.redirectHost, page.unverified.describedBy) : ''}${page.noticeHtml ? `<p>${page.noticeHtml}</p>
` : ''}${page.apis && page.apis.length > 0 ? apiList(t, page.apis) : ''}<p>${escapeHtml(t.t('consent.willBeAbleTo', { client: who }))}</p>
<ul class="scopes">
${items}
</ul>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<div class="actions">
<button type="submit" name="decision" value="deny" class="secondary">${escapeHtml(t.t('consent.deny'))}</button>
<button type="submit" name="decision" value="allow" class="primary">${escapeHtml(t.t('consent.allow'))}</button>
</div>
</form>`,
  );
}

/** The warning of an unverified application: plain words, the host it returns to, its own name as text. */
function unverifiedNotice(t: Translator, clientName: string, redirectHost: string, describedBy: string | undefined): string {
  const how = describedBy
    ? t.html('consent.unverified.document', { publisher: `<strong class="publisher">${escapeHtml(describedBy)}</strong>` })
    : t.html('consent.unverified.registered');
  const host = `<strong class="host">${escapeHtml(redirectHost)}</strong>`;
  return `<div class="unverified" role="note">
<p><strong>${escapeHtml(t.t('consent.unverified'))}</strong> ${how}</p>
<p>${t.html('consent.unverified.callsItself', { name: `<q class="given-name">${escapeHtml(clientName)}</q>`, host })}</p>
<p>${t.html('consent.unverified.trust', { host: `<strong>${escapeHtml(redirectHost)}</strong>` })}</p>
</div>
`;
}

/** RFC 8707: the APIs a token would be for, by name and identifier. */
function apiList(t: Translator, apis: { name: string; identifier: string }[]): string {
  const items = apis
    .map((a) => `<li><span class="what">${escapeHtml(a.name)}</span><code>${escapeHtml(a.identifier)}</code></li>`)
    .join('\n');
  return `<p>${escapeHtml(t.plural('consent.api', apis.length))}</p>
<ul class="scopes apis">
${items}
</ul>
`;
}

/** An error page: its title and explanation in the user's words already. */
export function errorPage(t: Translator, assetsPath: string, title: string, explanation: string): string {
  return layout(
    t,
    assetsPath,
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(explanation)}</p>
<p class="muted">${escapeHtml(t.t('error.goBack'))}</p>`,
  );
}

export function loggedOutPage(t: Translator, assetsPath: string): string {
  return layout(t, assetsPath, t.t('logout.done.title'), `<h1>${escapeHtml(t.t('logout.done.heading'))}</h1>\n<p>${escapeHtml(t.t('logout.done.text'))}</p>`);
}

export interface LogoutConfirmPage {
  t: Translator;
  assetsPath: string;
  action: string;
  csrfToken: string;
  carried: HiddenFields;
  clientName: string | undefined;
}

export function logoutConfirmPage(page: LogoutConfirmPage): string {
  const { t } = page;
  return layout(
    t,
    page.assetsPath,
    t.t('logout.title'),
    `<h1>${escapeHtml(t.t('logout.title'))}</h1>
<p>${escapeHtml(page.clientName ? t.t('logout.requestFrom', { client: page.clientName }) : t.t('logout.request'))}</p>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('logout.submit'))}</button></div>
</form>`,
  );
}


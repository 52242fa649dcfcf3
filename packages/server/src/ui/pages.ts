import { escapeHtml } from './security-headers.ts';
import { BRAND_MARK, HEAD_MARK } from './theme.ts';

/**
 * A page's frame: the stylesheet from our own origin, and no script unless `scriptNonce` is given: then
 * the passkey script (ui/passkey-script.ts), and only it, under that nonce.
 */
export function layout(assetsPath: string, title: string, body: string, scriptNonce?: string): string {
  return `<!doctype html>
<html lang="en">
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
    ? `<label for="passkey-name">Name</label>
<input type="text" id="passkey-name" name="name" maxlength="60" placeholder="Work laptop" autocomplete="off">
`
    : '';
  return `<form method="post" action="${escapeHtml(view.action)}" class="passkey" data-passkey="${view.mode}" data-options="${escapeHtml(JSON.stringify(view.options))}" hidden>
<input type="hidden" name="csrf_token" value="${escapeHtml(view.csrfToken)}">
${hiddenFields(view.carried)}
<input type="hidden" name="credential" value="">
${name}<p class="alert passkey-error" role="alert" hidden>Your passkey could not be used. Try again, or use another way.</p>
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
  /** "Sign in with a passkey" (a discoverable credential, no username), and the nonce of its script. */
  passkey?: { form: PasskeyFormView; scriptNonce: string };
  assetsPath: string;
  action: string;
  clientName: string;
  csrfToken: string;
  carried: HiddenFields;
  username?: string;
  error?: string;
}

export function loginPage(page: LoginPage): string {
  return layout(
    page.assetsPath,
    'Sign in',
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(page.clientName)}</strong></p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${escapeHtml(page.username ?? '')}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
${page.forgotPath ? `<p class="forgot"><a href="${escapeHtml(page.forgotPath)}">Forgot password?</a></p>\n` : ''}<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>${page.passkey ? `\n<div class="or" role="separator"><span>or</span></div>\n${passkeyForm(page.passkey.form)}` : ''}${
      page.providers && page.providers.length > 0
        ? `\n${page.passkey ? '' : '<div class="or" role="separator"><span>or</span></div>\n'}<div class="providers">${page.providers.map((p) => `<a class="button" href="${escapeHtml(p.href)}">Sign in with ${escapeHtml(p.name)}</a>`).join('')}</div>`
        : ''
    }${page.signupPath ? `\n<p class="muted signup">New here? <a href="${escapeHtml(page.signupPath)}">Create an account</a></p>` : ''}`,
    page.passkey?.scriptNonce,
  );
}

export interface ConsentPage {
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
  /** What follows the client's name in the heading (default: "wants to access your account"). */
  asks?: string;
  /** Text above the scope list (the device page names the code to compare). */
  notice?: { before: string; strong: string; after: string };
}

export function consentPage(page: ConsentPage): string {
  const items = page.scopes
    .map((s) => `<li><span class="what">${escapeHtml(s.description || s.scope)}</span><code>${escapeHtml(s.scope)}</code></li>`)
    .join('\n');
  // An unverified application is named by its redirect host, which it cannot choose freely (the
  // browser really goes there); its display name is whatever it wrote at registration.
  const who = page.unverified ? page.unverified.redirectHost : page.clientName;
  return layout(
    page.assetsPath,
    `Allow ${who}?`,
    `<h1><strong>${escapeHtml(who)}</strong> ${escapeHtml(page.asks ?? 'wants to access your account')}</h1>
<p class="who">Signed in as ${escapeHtml(page.username)}</p>
${page.unverified ? unverifiedNotice(page.clientName, page.unverified.redirectHost, page.unverified.describedBy) : ''}${page.notice ? `<p>${escapeHtml(page.notice.before)}<strong>${escapeHtml(page.notice.strong)}</strong>${escapeHtml(page.notice.after)}</p>
` : ''}${page.apis && page.apis.length > 0 ? apiList(page.apis) : ''}<p>If you allow it, ${escapeHtml(who)} will be able to:</p>
<ul class="scopes">
${items}
</ul>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<div class="actions">
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
</div>
</form>`,
  );
}

/** The warning of an unverified application: plain words, the host it returns to, its own name as text. */
function unverifiedNotice(clientName: string, redirectHost: string, describedBy: string | undefined): string {
  const how = describedBy
    ? `It describes itself in a document published at <strong class="publisher">${escapeHtml(describedBy)}</strong>: Latchkey does not know who runs it.`
    : 'It registered itself with Latchkey: Latchkey does not know who runs it.';
  return `<div class="unverified" role="note">
<p><strong>Unverified application.</strong> ${how}</p>
<p>It calls itself <q class="given-name">${escapeHtml(clientName)}</q>. After you answer, you go back to <strong class="host">${escapeHtml(redirectHost)}</strong>.</p>
<p>Allow it only if you trust <strong>${escapeHtml(redirectHost)}</strong>.</p>
</div>
`;
}

/** RFC 8707: the APIs a token would be for, by name and identifier. */
function apiList(apis: { name: string; identifier: string }[]): string {
  const items = apis
    .map((a) => `<li><span class="what">${escapeHtml(a.name)}</span><code>${escapeHtml(a.identifier)}</code></li>`)
    .join('\n');
  return `<p>It asks for access to ${apis.length === 1 ? 'this API' : 'these APIs'}:</p>
<ul class="scopes apis">
${items}
</ul>
`;
}

export function errorPage(assetsPath: string, title: string, explanation: string): string {
  return layout(
    assetsPath,
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(explanation)}</p>
<p class="muted">Go back to the application and try again. If this keeps happening, contact its support.</p>`,
  );
}

export function loggedOutPage(assetsPath: string): string {
  return layout(assetsPath, 'Signed out', `<h1>You are signed out</h1>\n<p>You can close this window.</p>`);
}

export interface LogoutConfirmPage {
  assetsPath: string;
  action: string;
  csrfToken: string;
  carried: HiddenFields;
  clientName: string | undefined;
}

export function logoutConfirmPage(page: LogoutConfirmPage): string {
  const from = page.clientName ? ` from ${escapeHtml(page.clientName)}` : '';
  return layout(
    page.assetsPath,
    'Sign out?',
    `<h1>Sign out?</h1>
<p>A request${from} asks to end your Latchkey session.</p>
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${hiddenFields(page.carried)}
<div class="actions"><button type="submit" class="primary">Sign out</button></div>
</form>`,
  );
}

import { escapeHtml } from './security-headers.ts';

/** A page's frame: no script anywhere, the stylesheet from our own origin. */
export function layout(assetsPath: string, title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(assetsPath)}/latchkey.css">
</head>
<body>
<main>
<p class="brand">Latchkey</p>
${body}
</main>
</body>
</html>
`;
}

function hiddenFields(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
}

function alert(message: string | undefined): string {
  return message ? `<p class="alert" role="alert">${escapeHtml(message)}</p>` : '';
}

export interface LoginPage {
  assetsPath: string;
  action: string;
  clientName: string;
  csrfToken: string;
  carried: Record<string, string>;
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
<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>`,
  );
}

export interface ConsentPage {
  assetsPath: string;
  action: string;
  clientName: string;
  username: string;
  csrfToken: string;
  carried: Record<string, string>;
  scopes: { scope: string; description: string }[];
  /** What follows the client's name in the heading (default: "wants to access your account"). */
  asks?: string;
  /** Text above the scope list (the device page names the code to compare). */
  notice?: { before: string; strong: string; after: string };
}

export function consentPage(page: ConsentPage): string {
  const items = page.scopes
    .map((s) => `<li><span class="what">${escapeHtml(s.description || s.scope)}</span><code>${escapeHtml(s.scope)}</code></li>`)
    .join('\n');
  return layout(
    page.assetsPath,
    `Allow ${page.clientName}?`,
    `<h1><strong>${escapeHtml(page.clientName)}</strong> ${escapeHtml(page.asks ?? 'wants to access your account')}</h1>
<p class="who">Signed in as ${escapeHtml(page.username)}</p>
${page.notice ? `<p>${escapeHtml(page.notice.before)}<strong>${escapeHtml(page.notice.strong)}</strong>${escapeHtml(page.notice.after)}</p>
` : ''}<p>If you allow it, ${escapeHtml(page.clientName)} will be able to:</p>
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
  carried: Record<string, string>;
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

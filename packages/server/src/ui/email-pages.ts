import { alert, layout } from './pages.ts';
import { escapeHtml } from './security-headers.ts';

/** "Forgot password?": the username or address of the account. */
export function forgotPasswordPage(page: { assetsPath: string; action: string; csrfToken: string; error?: string }): string {
  return layout(
    page.assetsPath,
    'Reset your password',
    `<h1>Reset your password</h1>
<p>Enter your username or email address. If an account matches, we send a link to its email address.</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<label for="identifier">Username or email</label>
<input type="text" id="identifier" name="identifier" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="254" required autofocus>
<div class="actions"><button type="submit" class="primary">Send the link</button></div>
</form>`,
  );
}

/** The same answer whether or not an account matched. */
export function forgotPasswordSentPage(assetsPath: string): string {
  return layout(
    assetsPath,
    'Check your mail',
    `<h1>Check your mail</h1>
<p class="notice" role="status">If an account matches, a link to reset its password is on its way to the account's email address. It works once, for 30 minutes.</p>
<p class="muted">No message after a few minutes? Check the spam folder, or ask your administrator.</p>`,
  );
}

/** The reset link's page: the new password. */
export function resetPasswordPage(page: { assetsPath: string; action: string; csrfToken: string; token: string; error?: string }): string {
  return layout(
    page.assetsPath,
    'Choose a new password',
    `<h1>Choose a new password</h1>
<p>Setting it signs your account out everywhere.</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<input type="hidden" name="token" value="${escapeHtml(page.token)}">
<label for="new-password">New password</label>
<input type="password" id="new-password" name="new_password" autocomplete="new-password" minlength="8" required autofocus>
<div class="actions"><button type="submit" class="primary">Set the password</button></div>
</form>`,
  );
}

/** A page that says one thing, with a way on. */
export function noticePage(assetsPath: string, title: string, text: string, link?: { href: string; label: string }): string {
  return layout(
    assetsPath,
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(text)}</p>${link ? `\n<div class="actions"><a class="button primary" href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></div>` : ''}`,
  );
}

/** The sign-up form; with an invitation the address is the invitation's and cannot be changed. */
export function signupPage(page: {
  assetsPath: string;
  action: string;
  csrfToken: string;
  invitation?: { token: string; email: string };
  values?: { username?: string; email?: string; name?: string };
  error?: string;
}): string {
  const v = page.values ?? {};
  const email = page.invitation
    ? `<label for="email">Email</label>
<input type="email" id="email" value="${escapeHtml(page.invitation.email)}" disabled>
<input type="hidden" name="invitation" value="${escapeHtml(page.invitation.token)}">`
    : `<label for="email">Email</label>
<input type="email" id="email" name="email" autocomplete="email" maxlength="254" required value="${escapeHtml(v.email ?? '')}">`;
  return layout(
    page.assetsPath,
    'Create your account',
    `<h1>Create your account</h1>
${page.invitation ? '<p>You were invited. Choose a username and a password.</p>' : '<p>We send a link to your address to confirm it before you sign in.</p>'}
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${email}
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="64" required value="${escapeHtml(v.username ?? '')}">
<label for="name">Name <span class="muted">(optional)</span></label>
<input type="text" id="name" name="name" autocomplete="name" maxlength="200" value="${escapeHtml(v.name ?? '')}">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="new-password" minlength="8" required>
<p class="muted">At least 8 characters, not one known from breaches.</p>
<div class="actions"><button type="submit" class="primary">Create account</button></div>
</form>`,
  );
}

/** The verification link's page: a button confirms (opening the link alone changes nothing). */
export function confirmEmailPage(page: { assetsPath: string; action: string; csrfToken: string; token: string; email: string; error?: string }): string {
  return layout(
    page.assetsPath,
    'Confirm your email address',
    `<h1>Confirm your email address</h1>
<p>Use <strong>${escapeHtml(page.email)}</strong> for your account?</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<input type="hidden" name="token" value="${escapeHtml(page.token)}">
<div class="actions"><button type="submit" class="primary">Confirm</button></div>
</form>`,
  );
}

import type { Translator } from '../i18n/translator.ts';
import { alert, layout } from './pages.ts';
import { escapeHtml } from './security-headers.ts';

/** "Forgot password?": the username or address of the account. */
export function forgotPasswordPage(page: { t: Translator; assetsPath: string; action: string; csrfToken: string; error?: string }): string {
  const { t } = page;
  return layout(
    t,
    page.assetsPath,
    t.t('email.forgot.title'),
    `<h1>${escapeHtml(t.t('email.forgot.title'))}</h1>
<p>${escapeHtml(t.t('email.forgot.intro'))}</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<label for="identifier">${escapeHtml(t.t('email.forgot.identifier'))}</label>
<input type="text" id="identifier" name="identifier" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="254" required autofocus>
<div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('email.forgot.submit'))}</button></div>
</form>`,
  );
}

/** The same answer whether or not an account matched. */
export function forgotPasswordSentPage(t: Translator, assetsPath: string): string {
  return layout(
    t,
    assetsPath,
    t.t('email.forgot.sent.title'),
    `<h1>${escapeHtml(t.t('email.forgot.sent.title'))}</h1>
<p class="notice" role="status">${escapeHtml(t.t('email.forgot.sent.text'))}</p>
<p class="muted">${escapeHtml(t.t('email.forgot.sent.spam'))}</p>`,
  );
}

/** The reset link's page: the new password. */
export function resetPasswordPage(page: { t: Translator; assetsPath: string; action: string; csrfToken: string; token: string; error?: string }): string {
  const { t } = page;
  return layout(
    t,
    page.assetsPath,
    t.t('email.reset.title'),
    `<h1>${escapeHtml(t.t('email.reset.title'))}</h1>
<p>${escapeHtml(t.t('email.reset.intro'))}</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<input type="hidden" name="token" value="${escapeHtml(page.token)}">
<label for="new-password">${escapeHtml(t.t('email.reset.newPassword'))}</label>
<input type="password" id="new-password" name="new_password" autocomplete="new-password" minlength="8" required autofocus>
<div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('email.reset.submit'))}</button></div>
</form>`,
  );
}

/** A page that says one thing, with a way on; title, text and the link's label in the user's words already. */
export function noticePage(t: Translator, assetsPath: string, title: string, text: string, link?: { href: string; label: string }): string {
  return layout(
    t,
    assetsPath,
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(text)}</p>${link ? `\n<div class="actions"><a class="button primary" href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></div>` : ''}`,
  );
}

/** The sign-up form; with an invitation the address is the invitation's and cannot be changed. */
export function signupPage(page: {
  t: Translator;
  assetsPath: string;
  action: string;
  csrfToken: string;
  invitation?: { token: string; email: string };
  values?: { username?: string; email?: string; name?: string };
  error?: string;
}): string {
  const { t } = page;
  const v = page.values ?? {};
  const email = page.invitation
    ? `<label for="email">${escapeHtml(t.t('signup.email'))}</label>
<input type="email" id="email" value="${escapeHtml(page.invitation.email)}" disabled>
<input type="hidden" name="invitation" value="${escapeHtml(page.invitation.token)}">`
    : `<label for="email">${escapeHtml(t.t('signup.email'))}</label>
<input type="email" id="email" name="email" autocomplete="email" maxlength="254" required value="${escapeHtml(v.email ?? '')}">`;
  return layout(
    t,
    page.assetsPath,
    t.t('signup.title'),
    `<h1>${escapeHtml(t.t('signup.title'))}</h1>
<p>${escapeHtml(t.t(page.invitation ? 'signup.invited' : 'signup.confirmFirst'))}</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
${email}
<label for="username">${escapeHtml(t.t('signup.username'))}</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="64" required value="${escapeHtml(v.username ?? '')}">
<label for="name">${escapeHtml(t.t('signup.name'))} <span class="muted">${escapeHtml(t.t('signup.optional'))}</span></label>
<input type="text" id="name" name="name" autocomplete="name" maxlength="200" value="${escapeHtml(v.name ?? '')}">
<label for="password">${escapeHtml(t.t('signup.password'))}</label>
<input type="password" id="password" name="password" autocomplete="new-password" minlength="8" required>
<p class="muted">${escapeHtml(t.t('signup.passwordHint'))}</p>
<div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('signup.submit'))}</button></div>
</form>`,
  );
}

/** The verification link's page: a button confirms (opening the link alone changes nothing). */
export function confirmEmailPage(page: { t: Translator; assetsPath: string; action: string; csrfToken: string; token: string; email: string; error?: string }): string {
  const { t } = page;
  return layout(
    t,
    page.assetsPath,
    t.t('email.verify.title'),
    `<h1>${escapeHtml(t.t('email.verify.title'))}</h1>
<p>${t.html('email.verify.question', { email: `<strong>${escapeHtml(page.email)}</strong>` })}</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<input type="hidden" name="token" value="${escapeHtml(page.token)}">
<div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('email.verify.submit'))}</button></div>
</form>`,
  );
}

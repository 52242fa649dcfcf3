import type { Translator } from '../i18n/translator.ts';
import { escapeHtml } from './security-headers.ts';
import { alert, consentPage, layout } from './pages.ts';

/** RFC 8628 §3.3: the page where the user types the code shown on the device. */
export function deviceEntryPage(page: { t: Translator; assetsPath: string; action: string; csrfToken: string; userCode?: string; error?: string; username: string }): string {
  const { t } = page;
  return layout(
    t,
    page.assetsPath,
    t.t('device.title'),
    `<h1>${escapeHtml(t.t('device.title'))}</h1>
<p class="who">${escapeHtml(t.t('device.signedInAs', { username: page.username }))}</p>
<p>${escapeHtml(t.t('device.enterCode'))}</p>
${alert(page.error)}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<label for="user_code">${escapeHtml(t.t('device.code'))}</label>
<input type="text" id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" required autofocus placeholder="${escapeHtml(t.t('device.codePlaceholder'))}" value="${escapeHtml(page.userCode ?? '')}">
<div class="actions"><button type="submit" class="primary">${escapeHtml(t.t('device.continue'))}</button></div>
</form>`,
  );
}

/** RFC 8628 §3.3, §5.4: which application and which scopes ask, and the code to compare. */
export function deviceConfirmPage(page: {
  t: Translator;
  assetsPath: string;
  action: string;
  csrfToken: string;
  userCode: string;
  clientName: string;
  username: string;
  scopes: { scope: string; description: string }[];
}): string {
  const { t } = page;
  return consentPage({
    t,
    assetsPath: page.assetsPath,
    action: page.action,
    clientName: page.clientName,
    username: page.username,
    csrfToken: page.csrfToken,
    carried: { user_code: page.userCode },
    scopes: page.scopes,
    heading: 'device.consent.heading',
    noticeHtml: t.html('device.consent.compare', { code: `<strong>${escapeHtml(page.userCode)}</strong>` }),
  });
}

export function deviceDonePage(t: Translator, assetsPath: string, allowed: boolean): string {
  const title = t.t(allowed ? 'device.allowed.title' : 'device.denied.title');
  const text = t.t(allowed ? 'device.allowed.text' : 'device.denied.text');
  return layout(t, assetsPath, title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(text)}</p>`);
}

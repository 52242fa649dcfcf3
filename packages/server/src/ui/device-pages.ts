import { escapeHtml } from './security-headers.ts';
import { consentPage, layout } from './pages.ts';

/** RFC 8628 §3.3: the page where the user types the code shown on the device. */
export function deviceEntryPage(page: { assetsPath: string; action: string; csrfToken: string; userCode?: string; error?: string; username: string }): string {
  return layout(
    page.assetsPath,
    'Connect a device',
    `<h1>Connect a device</h1>
<p class="who">Signed in as ${escapeHtml(page.username)}</p>
<p>Enter the code shown on your device.</p>
${page.error ? `<p class="alert" role="alert">${escapeHtml(page.error)}</p>` : ''}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(page.csrfToken)}">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" required autofocus placeholder="XXXX-XXXX" value="${escapeHtml(page.userCode ?? '')}">
<div class="actions"><button type="submit" class="primary">Continue</button></div>
</form>`,
  );
}

/** RFC 8628 §3.3, §5.4: which application and which scopes ask, and the code to compare. */
export function deviceConfirmPage(page: {
  assetsPath: string;
  action: string;
  csrfToken: string;
  userCode: string;
  clientName: string;
  username: string;
  scopes: { scope: string; description: string }[];
}): string {
  return consentPage({
    assetsPath: page.assetsPath,
    action: page.action,
    clientName: page.clientName,
    username: page.username,
    csrfToken: page.csrfToken,
    carried: { user_code: page.userCode },
    scopes: page.scopes,
    asks: 'on a device wants to access your account',
    notice: { before: 'Make sure your device shows the code ', strong: page.userCode, after: '. If it does not, deny.' },
  });
}

export function deviceDonePage(assetsPath: string, allowed: boolean): string {
  return layout(
    assetsPath,
    allowed ? 'Device connected' : 'Request denied',
    allowed
      ? `<h1>Device connected</h1>\n<p>You can return to your device; it continues on its own.</p>`
      : `<h1>Request denied</h1>\n<p>The device was not given access. You can close this window.</p>`,
  );
}

import type { Translator } from '../i18n/translator.ts';
import { layout } from './pages.ts';
import { escapeHtml } from './security-headers.ts';

/** What the issuer's own address shows a person (issue 19): what this server is, and where to go. */
export interface HomePage {
  t: Translator;
  assetsPath: string;
  productName: string;
  issuer: string;
  /** The OpenID Connect discovery document's URL. */
  discovery: string;
  /** The account page's URL. */
  account: string;
  /** Open sign-up's URL, when anyone may create an account. */
  signup?: string;
}

export function homePage(page: HomePage): string {
  const { t } = page;
  const link = (href: string, text: string) => `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;
  return layout(
    t,
    page.assetsPath,
    page.productName,
    `<h1>${escapeHtml(page.productName)}</h1>
<p>${escapeHtml(t.t('home.what', { product: page.productName }))}</p>
<ul class="links">
<li>${link(page.account, t.t('home.account'))}</li>
${page.signup ? `<li>${link(page.signup, t.t('login.createAccount'))}</li>\n` : ''}<li>${link(page.discovery, t.t('home.discovery'))} <span class="muted">${escapeHtml(t.t('home.discoveryFor'))}</span></li>
</ul>
<p class="muted">${escapeHtml(t.t('home.issuer'))} <code>${escapeHtml(page.issuer)}</code></p>`,
  );
}

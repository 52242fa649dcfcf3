import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../config/defaults.ts';
import { escapeHtml } from './security-headers.ts';

/**
 * The operator's look (issue 16): a product name, a main colour, their own stylesheet and a logo from
 * LATCHKEY_THEME_DIR. Everything is served from the issuer's origin under /assets, so the pages' CSP
 * (`style-src 'self'; img-src 'self'`) does not change. Pages are rendered with markers (ui/pages.ts
 * layout) that `brandPage` fills in when a page is sent (http/page-reply.ts).
 */
export interface Theme {
  productName: string;
  /** CSS that sets Latchkey's colour variables, when a colour is set. */
  colorCss?: string;
  /** The operator's stylesheet. */
  css?: string;
  logo?: { file: string; type: string; body: Buffer };
}

/** Darker by `amount` (0-1): the hover colour of a button. */
function darker(hex: string, amount: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const channel = (shift: number) => Math.round(((n >> shift) & 255) * (1 - amount));
  return `#${[16, 8, 0].map((s) => channel(s).toString(16).padStart(2, '0')).join('')}`;
}

/** Reads the theme once, at start: the directory's files are the operator's, read as they are. */
export function loadTheme(settings: Pick<Settings, 'productName' | 'themeColor' | 'themeDir'>): Theme {
  const theme: Theme = { productName: settings.productName.trim() };
  if (settings.themeColor) theme.colorCss = `:root{--lk-primary:${settings.themeColor};--lk-primary-hover:${darker(settings.themeColor, 0.18)};--lk-focus:${settings.themeColor}66}\n`;
  if (settings.themeDir) {
    const css = join(settings.themeDir, 'theme.css');
    if (existsSync(css)) theme.css = readFileSync(css, 'utf8');
    for (const [file, type] of [['logo.svg', 'image/svg+xml'], ['logo.png', 'image/png']] as const) {
      const path = join(settings.themeDir, file);
      if (existsSync(path)) {
        theme.logo = { file, type, body: readFileSync(path) };
        break;
      }
    }
  }
  return theme;
}

/** Marks layout() leaves for brandPage. */
export const HEAD_MARK = '<!--lk:head-->';
export const BRAND_MARK = '<!--lk:brand-->';

/** Fills a page's markers: the theme's stylesheets in the head, the logo or the product name. */
export function brandPage(html: string, theme: Theme, assetsPath: string): string {
  const links = [theme.colorCss ? `<link rel="stylesheet" href="${escapeHtml(assetsPath)}/theme-colors.css">` : '', theme.css ? `<link rel="stylesheet" href="${escapeHtml(assetsPath)}/theme.css">` : '']
    .filter((l) => l !== '')
    .join('\n');
  const brand = theme.logo
    ? `<p class="brand"><img src="${escapeHtml(assetsPath)}/${theme.logo.file}" alt="${escapeHtml(theme.productName)}"></p>`
    : `<p class="brand">${escapeHtml(theme.productName)}</p>`;
  // Functions, not strings, as replacements: a `$&` in a product name stays text.
  return html.replace(HEAD_MARK, () => links).replace(BRAND_MARK, () => brand);
}

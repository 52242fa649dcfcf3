import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../config/defaults.ts';
import { ConfigError } from '../errors.ts';
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
  /** The operator's page frame (LATCHKEY_THEME_DIR/layout.html), checked at start (`checkLayout`). */
  layout?: string;
}

/**
 * What an operator's layout.html may say (docs/theming.md): the page's language and direction, its
 * title, what Latchkey puts in the head (stylesheets, the passkey script), the logo or product name,
 * the page's content, the product name, and `{{t custom.name}}` for a message of the operator's
 * catalogs (LATCHKEY_THEME_DIR/messages) in the page's language.
 */
const LAYOUT_PLACEHOLDER = /\{\{\s*(lang|dir|title|head|brand|content|product|t\s+custom\.[A-Za-z0-9_.-]+)\s*\}\}/g;
const ANY_PLACEHOLDER = /\{\{[^}]*\}\}/g;

/** The layout's mistakes: unknown placeholders, the two it cannot do without, a script (which CSP would block). */
export function checkLayout(layout: string): string[] {
  const problems: string[] = [];
  for (const match of layout.matchAll(ANY_PLACEHOLDER)) {
    if (!new RegExp(`^${LAYOUT_PLACEHOLDER.source}$`).test(match[0])) problems.push(`unknown placeholder ${match[0]}`);
  }
  for (const required of ['head', 'content']) {
    const count = [...layout.matchAll(new RegExp(`\\{\\{\\s*${required}\\s*\\}\\}`, 'g'))].length;
    if (count !== 1) problems.push(`{{${required}}} must appear exactly once (it appears ${count} times)`);
  }
  if (/<script\b/i.test(layout)) problems.push('a <script> cannot run: the pages allow only Latchkey\'s own script (Content-Security-Policy)');
  const head = layout.search(/\{\{\s*head\s*\}\}/);
  const content = layout.search(/\{\{\s*content\s*\}\}/);
  // The head (stylesheets, the script under its nonce) comes before anything derived from a request.
  if (head >= 0 && content >= 0 && head > content) problems.push('{{head}} must come before {{content}}');
  for (const match of layout.matchAll(LAYOUT_PLACEHOLDER)) problems.push(...placeholderContext(layout, match.index, match[1] as string));
  return problems;
}

/**
 * Where a placeholder may stand: its values are escaped for text and for double-quoted attribute
 * values only, so inside a tag it must be within double quotes (and the HTML ones, head, brand,
 * content, not inside a tag at all); never in a comment, a <style> or a <textarea>, where escaping
 * does not protect.
 */
function placeholderContext(layout: string, at: number, name: string): string[] {
  const before = layout.slice(0, at);
  const where = `{{${name}}}`;
  if (before.lastIndexOf('<!--') > before.lastIndexOf('-->')) return [`${where} cannot be inside a comment`];
  for (const element of ['style', 'textarea', 'title']) {
    const open = before.search(new RegExp(`<${element}\\b[^>]*>(?![\\s\\S]*</${element}>)`, 'i'));
    if (open >= 0 && element !== 'title') return [`${where} cannot be inside <${element}>`];
    if (open >= 0 && ['head', 'brand', 'content'].includes(name)) return [`${where} cannot be inside <title>`];
  }
  const tagStart = before.lastIndexOf('<');
  if (tagStart > before.lastIndexOf('>')) {
    if (['head', 'brand', 'content'].includes(name)) return [`${where} cannot be inside a tag`];
    const quotes = (before.slice(tagStart).match(/"/g) ?? []).length;
    if (quotes % 2 === 0) return [`${where} inside a tag must be within double quotes (attr="${where}")`];
  }
  return [];
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
    const layout = join(settings.themeDir, 'layout.html');
    if (existsSync(layout)) {
      theme.layout = readFileSync(layout, 'utf8');
      const problems = checkLayout(theme.layout);
      if (problems.length > 0) throw new ConfigError(`LATCHKEY_THEME_DIR/layout.html cannot be used:\n  ${problems.join('\n  ')}`);
    }
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

/**
 * Fills a page's markers: the theme's stylesheets in the head, the logo or the product name; with an
 * operator's layout, puts the page's parts into it. `message` gives an operator's `custom.*` message
 * in a language.
 */
export function brandPage(html: string, theme: Theme, assetsPath: string, message: (locale: string, key: string) => string = (_l, key) => key): string {
  const links = [theme.colorCss ? `<link rel="stylesheet" href="${escapeHtml(assetsPath)}/theme-colors.css">` : '', theme.css ? `<link rel="stylesheet" href="${escapeHtml(assetsPath)}/theme.css">` : '']
    .filter((l) => l !== '')
    .join('\n');
  const brand = theme.logo
    ? `<p class="brand"><img src="${escapeHtml(assetsPath)}/${theme.logo.file}" alt="${escapeHtml(theme.productName)}"></p>`
    : `<p class="brand">${escapeHtml(theme.productName)}</p>`;
  // Functions, not strings, as replacements: a `$&` in a product name stays text.
  const page = html.replace(HEAD_MARK, () => links).replace(BRAND_MARK, () => brand);
  return theme.layout ? intoLayout(theme.layout, page, brand, theme.productName, message) : page;
}

/**
 * The parts of a page layout() made (ui/pages.ts), put into the operator's layout. The page is our own
 * output, whose shape is fixed: `<html lang dir>`, the title, the rest of the head, the content of <main>.
 */
function intoLayout(layout: string, page: string, brand: string, productName: string, message: (locale: string, key: string) => string): string {
  const html = /<html lang="([^"]*)" dir="([^"]*)">/.exec(page);
  const head = /<title>([\s\S]*?)<\/title>\n([\s\S]*?)<\/head>/.exec(page);
  const main = /<main>\n([\s\S]*)\n<\/main>/.exec(page);
  if (!html || !head || !main) return page;
  const [, lang = 'en', dir = 'ltr'] = html;
  // The brand is a placeholder of its own in the operator's layout, so it leaves the content.
  const content = (main[1] as string).replace(brand, '').replace(/^\n/, '');
  const values: Record<string, string> = {
    lang,
    dir,
    title: head[1] as string,
    head: (head[2] as string).trim(),
    brand,
    content,
    product: escapeHtml(productName),
  };
  return layout.replace(LAYOUT_PLACEHOLDER, (_whole, name: string) => {
    if (/^t\s/.test(name)) return escapeHtml(message(lang, name.replace(/^t\s+/, '')));
    return values[name] ?? '';
  });
}

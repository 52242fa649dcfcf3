import type { Translator } from '../i18n/translator.ts';

/**
 * A User-Agent in words a person recognises ("Firefox on Windows"), in the page's language, for the
 * account page's list of signed-in browsers. A rough guess from well-known tokens, never used for any
 * decision. The names of browsers and systems are names, the same in every language.
 */
export function describeUserAgent(t: Translator, userAgent: string | null | undefined): string {
  if (!userAgent) return t.t('account.browser.unknown');
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /(Chrome|Chromium|HeadlessChrome)\//.test(userAgent)
        ? 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : /curl\//.test(userAgent)
            ? 'curl'
            : t.t('account.browser.other');
  const system = /iPhone|iPad/.test(userAgent)
    ? 'iOS'
    : /Android/.test(userAgent)
      ? 'Android'
      : /Windows/.test(userAgent)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(userAgent)
          ? 'macOS'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : undefined;
  return system ? t.t('account.browser.onSystem', { browser, system }) : browser;
}

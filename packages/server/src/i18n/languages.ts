import Negotiator from 'negotiator';
import { BUILT_IN_CATALOGS, ENGLISH } from './catalogs.ts';
import { Translator, type Catalog } from './translator.ts';

/** A BCP 47 language tag's shape (RFC 5646 §2.1): a language, then subtags of letters and digits. */
const LANGUAGE_TAG = /^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$/;

/** Longest `ui_locales` or `Accept-Language` read; the rest is ignored (no language tag list is longer). */
const MAX_PREFERENCE_LENGTH = 512;

/**
 * The languages pages and mail are offered in (docs/languages.md): the built-in catalogs, with the
 * operator's additions and changes, and the language for a user who asks for none of them.
 */
export class Languages {
  readonly #catalogs: Map<string, Catalog>;
  readonly #translators = new Map<string, Translator>();
  readonly defaultLocale: string;

  constructor(catalogs: readonly Catalog[] = BUILT_IN_CATALOGS, defaultLocale = 'en') {
    this.#catalogs = new Map(catalogs.map((c) => [c.locale, c]));
    if (!this.#catalogs.has(defaultLocale)) throw new Error(`no catalog for the default language ${defaultLocale}`);
    this.defaultLocale = defaultLocale;
  }

  /** The language tags offered, the default first (discovery's `ui_locales_supported`). */
  get supported(): string[] {
    return [this.defaultLocale, ...[...this.#catalogs.keys()].filter((l) => l !== this.defaultLocale)];
  }

  /** The words of one language; an unknown tag gets the default language. */
  translator(locale: string): Translator {
    const catalog = this.#catalogs.get(locale) ?? (this.#catalogs.get(this.defaultLocale) as Catalog);
    // Kept per catalog, so the map never holds more than the languages there are.
    let translator = this.#translators.get(catalog.locale);
    if (!translator) {
      // A message a language lacks comes in English: the operator's English where they wrote one.
      translator = new Translator(catalog, this.#catalogs.get('en') ?? ENGLISH);
      this.#translators.set(catalog.locale, translator);
    }
    return translator;
  }

  /**
   * The user's language: the first of `ui_locales` offered (OIDC Core §3.1.2.1: "End-User's preferred
   * languages and scripts for the user interface, represented as a space-separated list of BCP47
   * [RFC5646] language tag values, ordered by preference"), else the best of the browser's
   * `Accept-Language` (RFC 9110 §12.5.4), else the default. A region falls back to its language
   * ("de-AT" gets "de").
   */
  choose(uiLocales: string | undefined, acceptLanguage: string | undefined): Translator {
    const offered = this.supported;
    if (uiLocales) {
      for (const tag of uiLocales.slice(0, MAX_PREFERENCE_LENGTH).split(' ')) {
        // Only language tags (RFC 5646's shape): not `*`, weights or lists, which belong to Accept-Language.
        if (!LANGUAGE_TAG.test(tag)) continue;
        const [best] = new Negotiator({ headers: { 'accept-language': tag } }).languages(offered);
        if (best !== undefined) return this.translator(best);
      }
    }
    if (acceptLanguage) {
      const [best] = new Negotiator({ headers: { 'accept-language': acceptLanguage.slice(0, MAX_PREFERENCE_LENGTH) } }).languages(offered);
      if (best !== undefined) return this.translator(best);
    }
    return this.translator(this.defaultLocale);
  }
}

import { parse, type HTMLElement } from 'node-html-parser';

/**
 * A tiny HTTP "browser" for tests that drive the HTML login and consent pages without Chromium: global fetch
 * with `redirect: 'manual'`, a cookie jar, and form extraction with a real HTML parser.
 *
 * Simplifications, on purpose: cookies are kept per origin (scheme, host and port) rather than per host and
 * Domain; a cookie is sent when the request path starts with its Path (default `/`); Secure, HttpOnly and
 * SameSite are not enforced. No scripts, no subresources.
 */

export interface Page {
  /** The URL that answered (the last one, when redirects were followed). */
  url: string;
  status: number;
  headers: Headers;
  text: string;
  /** The Location header resolved against `url`, when there is one. */
  location: string | undefined;
  /** The URLs redirected through before `url`, in order (empty without followRedirects). */
  redirects: string[];
}

export interface RequestOptions {
  /** Follow 301/302/303/307/308 (at most 20); by default the redirect itself is returned. */
  followRedirects?: boolean;
  headers?: Record<string, string>;
}

export interface FormInput {
  name: string;
  value: string;
  /** The input's type attribute, lower case (`text` when absent); `textarea` and `select` for those. */
  type: string;
  /** For checkboxes and radios: whether `checked` is set. */
  checked: boolean;
}

export interface FormButton {
  name: string;
  value: string;
  /** The button's text, trimmed. */
  text: string;
}

export interface HtmlForm {
  /** The action attribute, resolved against the page's URL when one was given (else as written; '' when absent). */
  action: string;
  method: 'get' | 'post';
  /** Named inputs (hidden ones included), textareas and selects, in document order. */
  inputs: FormInput[];
  /** Named buttons (and named submit inputs), in document order. */
  buttons: FormButton[];
}

export type FormData = Record<string, string | string[]>;

interface StoredCookie {
  value: string;
  path: string;
  /** Milliseconds since the epoch, or undefined for a session cookie. */
  expires: number | undefined;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;

export class FormBrowser {
  /** origin → cookie name → cookie */
  private readonly jar = new Map<string, Map<string, StoredCookie>>();

  /** The live cookies for a URL's origin and path, as name → value. */
  cookies(url: string): Record<string, string> {
    const target = new URL(url);
    const now = Date.now();
    const out: Record<string, string> = {};
    const cookies = this.jar.get(target.origin);
    if (!cookies) return out;
    for (const [name, cookie] of cookies) {
      if (cookie.expires !== undefined && cookie.expires <= now) {
        cookies.delete(name);
        continue;
      }
      if (pathMatches(target.pathname, cookie.path)) out[name] = cookie.value;
    }
    return out;
  }

  /** Sets a cookie by hand, as if the origin had sent it. */
  setCookie(url: string, name: string, value: string, path = '/'): void {
    this.origin(new URL(url).origin).set(name, { value, path, expires: undefined });
  }

  clearCookies(): void {
    this.jar.clear();
  }

  get(url: string, options: RequestOptions = {}): Promise<Page> {
    return this.request('GET', url, undefined, options);
  }

  /** POSTs an application/x-www-form-urlencoded body. */
  post(url: string, form: FormData, options: RequestOptions = {}): Promise<Page> {
    return this.request('POST', url, encodeForm(form), options);
  }

  /** The forms of a page (or any HTML), with `action` resolved against `baseUrl` when given. */
  forms(html: string, baseUrl?: string): HtmlForm[] {
    return parse(html).querySelectorAll('form').map((form) => readForm(form, baseUrl));
  }

  /**
   * Submits a form as a browser would: its inputs' values (unchecked checkboxes and radios left out),
   * `values` over them, and the named button's name=value when `button` names one
   * (`{ name: 'decision', value: 'allow' }`).
   */
  async submit(
    page: Page,
    form: HtmlForm,
    options: { button?: { name: string; value: string }; values?: Record<string, string> } & RequestOptions = {},
  ): Promise<Page> {
    const data = formValues(form);
    for (const [k, v] of Object.entries(options.values ?? {})) data.set(k, [v]);
    if (options.button) {
      const { name, value } = options.button;
      if (!form.buttons.some((b) => b.name === name && b.value === value)) {
        throw new Error(`the form has no button ${name}=${value}`);
      }
      data.set(name, [...(data.get(name) ?? []), value]);
    }
    const action = new URL(form.action || page.url, page.url);
    const fields: FormData = Object.fromEntries(data);
    const requestOptions: RequestOptions = {};
    if (options.followRedirects !== undefined) requestOptions.followRedirects = options.followRedirects;
    if (options.headers !== undefined) requestOptions.headers = options.headers;
    if (form.method === 'get') {
      action.search = encodeForm(fields);
      return this.get(action.toString(), requestOptions);
    }
    return this.post(action.toString(), fields, requestOptions);
  }

  private async request(method: string, url: string, body: string | undefined, options: RequestOptions): Promise<Page> {
    const redirects: string[] = [];
    let current = new URL(url).toString();
    for (;;) {
      const headers: Record<string, string> = { ...options.headers };
      const cookie = Object.entries(this.cookies(current))
        .map(([k, v]) => `${k}=${v}`)
        .join('; ');
      if (cookie) headers.cookie = cookie;
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const init: RequestInit = { method, headers, redirect: 'manual' };
      if (body !== undefined) init.body = body;
      const res = await fetch(current, init);
      this.store(current, res.headers.getSetCookie());
      const text = await res.text();
      const raw = res.headers.get('location');
      const location = raw === null ? undefined : new URL(raw, current).toString();
      const page: Page = { url: current, status: res.status, headers: res.headers, text, location, redirects };
      if (!options.followRedirects || !REDIRECTS.has(res.status) || location === undefined) return page;
      if (redirects.length >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
      redirects.push(current);
      // 303, and 301/302 after a POST as browsers do, become a GET; 307 and 308 keep method and body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      current = location;
    }
  }

  private origin(origin: string): Map<string, StoredCookie> {
    let cookies = this.jar.get(origin);
    if (!cookies) {
      cookies = new Map();
      this.jar.set(origin, cookies);
    }
    return cookies;
  }

  private store(url: string, setCookies: string[]): void {
    if (setCookies.length === 0) return;
    const cookies = this.origin(new URL(url).origin);
    for (const header of setCookies) {
      const parsed = parseSetCookie(header);
      if (!parsed) continue;
      if (parsed.expires !== undefined && parsed.expires <= Date.now()) cookies.delete(parsed.name);
      else cookies.set(parsed.name, { value: parsed.value, path: parsed.path, expires: parsed.expires });
    }
  }
}

/** One Set-Cookie header: name=value, Path, Max-Age (which wins) and Expires. Undefined when malformed. */
export function parseSetCookie(header: string): { name: string; value: string; path: string; expires: number | undefined } | undefined {
  const [pair = '', ...attributes] = header.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const name = pair.slice(0, eq).trim();
  let value = pair.slice(eq + 1).trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  if (!name) return undefined;
  let path = '/';
  let maxAge: number | undefined;
  let expires: number | undefined;
  for (const attribute of attributes) {
    const i = attribute.indexOf('=');
    const key = (i < 0 ? attribute : attribute.slice(0, i)).trim().toLowerCase();
    const val = i < 0 ? '' : attribute.slice(i + 1).trim();
    if (key === 'path' && val.startsWith('/')) path = val;
    else if (key === 'max-age' && /^-?\d+$/.test(val)) maxAge = Number(val);
    else if (key === 'expires') {
      const t = Date.parse(val);
      if (!Number.isNaN(t)) expires = t;
    }
  }
  if (maxAge !== undefined) expires = maxAge <= 0 ? 0 : Date.now() + maxAge * 1000;
  return { name, value, path, expires };
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function encodeForm(form: FormData): string {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const value of Array.isArray(v) ? v : [v]) body.append(k, value);
  return body.toString();
}

function readForm(form: HTMLElement, baseUrl: string | undefined): HtmlForm {
  const rawAction = form.getAttribute('action') ?? '';
  const action = baseUrl === undefined ? rawAction : new URL(rawAction || baseUrl, baseUrl).toString();
  const method = (form.getAttribute('method') ?? 'get').trim().toLowerCase() === 'post' ? 'post' : 'get';
  const inputs: FormInput[] = [];
  const buttons: FormButton[] = [];
  for (const el of form.querySelectorAll('input, textarea, select, button')) {
    const name = el.getAttribute('name');
    if (name === undefined || name === '' || el.hasAttribute('disabled')) continue;
    const tag = el.tagName.toLowerCase();
    if (tag === 'button') {
      const type = (el.getAttribute('type') ?? 'submit').toLowerCase();
      if (type === 'submit') buttons.push({ name, value: el.getAttribute('value') ?? '', text: el.text.trim() });
    } else if (tag === 'textarea') {
      inputs.push({ name, value: el.text, type: 'textarea', checked: false });
    } else if (tag === 'select') {
      const options = el.querySelectorAll('option');
      const chosen = options.find((o) => o.hasAttribute('selected')) ?? options[0];
      const value = chosen ? (chosen.getAttribute('value') ?? chosen.text.trim()) : '';
      inputs.push({ name, value, type: 'select', checked: false });
    } else {
      const type = (el.getAttribute('type') ?? 'text').toLowerCase();
      const value = el.getAttribute('value') ?? (type === 'checkbox' || type === 'radio' ? 'on' : '');
      if (type === 'submit' || type === 'image') buttons.push({ name, value, text: value });
      else if (type !== 'reset' && type !== 'button' && type !== 'file') {
        inputs.push({ name, value, type, checked: el.hasAttribute('checked') });
      }
    }
  }
  return { action, method, inputs, buttons };
}

/** The values a form submits, before any button: unchecked checkboxes and radios left out. */
function formValues(form: HtmlForm): Map<string, string[]> {
  const data = new Map<string, string[]>();
  for (const input of form.inputs) {
    if ((input.type === 'checkbox' || input.type === 'radio') && !input.checked) continue;
    data.set(input.name, [...(data.get(input.name) ?? []), input.value]);
  }
  return data;
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import { PAGE_SECURITY_HEADERS } from '../ui/security-headers.ts';
import { FormParams } from './form-params.ts';

/** Sends an HTML page with the headers every page carries (ui/security-headers.ts). */
export function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(PAGE_SECURITY_HEADERS).type('text/html; charset=utf-8').send(html);
}

/** A page's parameters: the form body of a POST, the query string of a GET; undefined for a body we cannot read. */
export function pageParams(request: FastifyRequest): FormParams | undefined {
  if (request.method === 'POST') return request.body instanceof FormParams ? request.body : undefined;
  const q = request.url.indexOf('?');
  return new FormParams(q < 0 ? '' : request.url.slice(q + 1));
}

/** A form field that may be missing or repeated: repeated counts as missing. */
export function optionalParam(params: FormParams, name: string): string | undefined {
  try {
    return params.get(name);
  } catch {
    return undefined;
  }
}

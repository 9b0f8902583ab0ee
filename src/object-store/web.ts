// Static web (X-Container-Meta-Web-Index/-Listings/-Error for anonymous readers of public
// containers, or with X-Web-Mode: true) and CORS (X-Container-Meta-Access-Control-*).
// They answer with a SwiftResponse the handler layer writes (api/request.ts sendSwift).
import { ApiError } from '../core/errors.ts';
import type { ObjectStoreService } from './service.ts';
import { authorize } from './acl.ts';
import type { SwiftRequest, SwiftResponse } from './request.ts';
import type { ContainerRow } from './store.ts';
import { hdr, truthy, xmlEscape } from './api/common.ts';

export class StaticWeb {
  constructor(private s: ObjectStoreService) {}

  /** What static web answers for a GET/HEAD of `object` in `c` ('' the container), or undefined to go on. */
  async maybeServe(req: SwiftRequest, c: ContainerRow, object: string): Promise<SwiftResponse | undefined> {
    if (req.context.auth && !truthy(hdr(req, 'x-web-mode'))) return undefined;
    if (req.query.temp_url_sig !== undefined) return undefined;
    const index = c.metadata['x-container-meta-web-index'];
    const listings = truthy(c.metadata['x-container-meta-web-listings']);
    if (!index && !listings) return undefined;
    const q = req.query;
    if (q.format || q.prefix !== undefined || q.marker || q.delimiter) return undefined;
    const isDir = object === '' || object.endsWith('/');
    if (!isDir) {
      const o = await this.s.store.getObject(c.account, c.name, object);
      if (o) return undefined;
      // A "directory" without its trailing slash: redirect as Swift does.
      const under = await this.s.store.list('objects', c.account, c.name, { prefix: object + '/', limit: 1 });
      if (!under.length) return this.error(c, 404);
      authorize(req, c.account, 'read', c);
      return {
        status: 301,
        headers: { location: `${req.url.split('?')[0]}/` },
        type: 'text/html; charset=UTF-8',
        body: '',
      };
    }
    authorize(req, c.account, 'read', c);
    if (index) {
      const o = await this.s.store.getObject(c.account, c.name, object + index);
      if (o) return { status: 200, serve: o };
    }
    if (!listings) return this.error(c, 404);
    const rows = await this.s.store.list('objects', c.account, c.name, {
      prefix: object || undefined,
      delimiter: '/',
      limit: 10000,
    });
    if (!rows.length && object) return this.error(c, 404);
    const css = c.metadata['x-container-meta-web-listings-css'];
    const title = `Listing of /v1/${c.account}/${c.name}/${object}`;
    const body = [
      '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">',
      `<html><head><title>${xmlEscape(title)}</title>${css ? `<link rel="stylesheet" type="text/css" href="${xmlEscape(css)}" />` : ''}</head>`,
      `<body><h1 id="title">${xmlEscape(title)}</h1><table id="listing"><tr id="heading"><th class="colname">Name</th><th class="colsize">Size</th><th class="coldate">Date</th></tr>`,
      object
        ? '<tr id="parent" class="item"><td class="colname"><a href="../">../</a></td><td class="colsize">&nbsp;</td><td class="coldate">&nbsp;</td></tr>'
        : '',
      ...rows.map((r) =>
        'subdir' in r
          ? `<tr class="item subdir"><td class="colname"><a href="${xmlEscape(encodeURIComponent(r.subdir.slice(object.length).replace(/\/$/, '')))}/">${xmlEscape(r.subdir.slice(object.length))}</a></td><td class="colsize">&nbsp;</td><td class="coldate">&nbsp;</td></tr>`
          : `<tr class="item"><td class="colname"><a href="${xmlEscape(encodeURIComponent(r.name.slice(object.length)))}">${xmlEscape(r.name.slice(object.length))}</a></td><td class="colsize">${r.bytes}</td><td class="coldate">${r.last_modified.slice(0, 19).replace('T', ' ')}</td></tr>`,
      ),
      '</table></body></html>\n',
    ].join('\n');
    return { status: 200, type: 'text/html; charset=UTF-8', body };
  }

  private async error(c: ContainerRow, status: number): Promise<SwiftResponse> {
    const err = c.metadata['x-container-meta-web-error'];
    if (err) {
      const o = await this.s.store.getObject(c.account, c.name, `${status}${err}`);
      if (o) return { status, type: o.content_type, stream: o };
    }
    throw new ApiError(status, 'The resource could not be found.');
  }

  /**
   * CORS headers on an actual request from an allowed origin, in the order they are written;
   * `sent` names the headers the response already has (its meta headers are exposed).
   */
  async corsHeaders(
    req: SwiftRequest,
    account: string,
    container: string,
    sent: string[],
  ): Promise<Record<string, string> | undefined> {
    const origin = hdr(req, 'origin');
    if (!origin) return undefined;
    const c = await this.s.store.getContainer(account, container);
    const allowed = (c?.metadata['x-container-meta-access-control-allow-origin'] ?? '').split(/\s+/).filter(Boolean);
    if (!allowed.includes('*') && !allowed.includes(origin)) return undefined;
    const out: Record<string, string> = {
      'access-control-allow-origin': allowed.includes('*') && !req.headers['x-auth-token'] ? '*' : origin,
    };
    const expose = [
      'cache-control',
      'content-language',
      'content-type',
      'expires',
      'last-modified',
      'pragma',
      'etag',
      'x-timestamp',
      'x-trans-id',
      'x-openstack-request-id',
    ];
    for (const k of sent) if (k.startsWith('x-object-meta-') || k.startsWith('x-container-meta-')) expose.push(k);
    const extra = c?.metadata['x-container-meta-access-control-expose-headers'];
    if (extra) expose.push(...extra.split(/[\s,]+/).filter(Boolean));
    out['access-control-expose-headers'] = expose.join(', ');
    return out;
  }

  /** OPTIONS preflight: 200 with the allowed methods when the container allows the origin, else 401. */
  async preflight(req: SwiftRequest): Promise<SwiftResponse> {
    const origin = hdr(req, 'origin');
    const method = hdr(req, 'access-control-request-method');
    const methods = 'HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE';
    if (!origin || !method)
      return { status: 200, headers: { allow: methods, 'content-length': '0' }, type: 'text/html; charset=UTF-8' };
    const c = await this.s.store.getContainer(req.account, req.container);
    const allowed = (c?.metadata['x-container-meta-access-control-allow-origin'] ?? '').split(/\s+/).filter(Boolean);
    if (!c || (!allowed.includes('*') && !allowed.includes(origin)))
      throw new ApiError(
        401,
        'This server could not verify that you are authorized to access the document you requested.',
      );
    const headers: Record<string, string> = {
      'access-control-allow-origin': allowed.includes('*') ? '*' : origin,
      'access-control-allow-methods': methods,
      'access-control-max-age': c.metadata['x-container-meta-access-control-max-age'] ?? '',
      allow: methods,
      'content-length': '0',
    };
    const reqHeaders = hdr(req, 'access-control-request-headers');
    if (reqHeaders) headers['access-control-allow-headers'] = reqHeaders;
    return { status: 200, headers, type: 'text/html; charset=UTF-8' };
  }
}

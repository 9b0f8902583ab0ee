// Static web (X-Container-Meta-Web-Index/-Listings/-Error for anonymous readers of public
// containers, or with X-Web-Mode: true) and CORS (X-Container-Meta-Access-Control-*).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../core/errors.ts';
import type { ObjectStoreService } from './service.ts';
import { authorize } from './acl.ts';
import { swiftRequest } from './api/request.ts';
import type { ContainerRow } from './store.ts';
import { hdr, truthy, xmlEscape } from './api/common.ts';

export class StaticWeb {
  constructor(private s: ObjectStoreService) {}

  async maybeServe(req: FastifyRequest, reply: FastifyReply, c: ContainerRow, object: string): Promise<boolean> {
    if (req.ctx && !truthy(hdr(req, 'x-web-mode'))) return false;
    if ((req.query as Record<string, string>).temp_url_sig !== undefined) return false;
    const index = c.metadata['x-container-meta-web-index'];
    const listings = truthy(c.metadata['x-container-meta-web-listings']);
    if (!index && !listings) return false;
    const q = req.query as Record<string, string>;
    if (q.format || q.prefix !== undefined || q.marker || q.delimiter) return false;
    const isDir = object === '' || object.endsWith('/');
    if (!isDir) {
      const o = await this.s.store.getObject(c.account, c.name, object);
      if (o) return false;
      // A "directory" without its trailing slash: redirect as Swift does.
      const under = await this.s.store.list('objects', c.account, c.name, { prefix: object + '/', limit: 1 });
      if (!under.length) return this.error(req, reply, c, 404);
      authorize(swiftRequest(req), c.account, 'read', c);
      reply
        .code(301)
        .header('location', `${req.url.split('?')[0]}/`)
        .type('text/html; charset=UTF-8')
        .send('');
      return true;
    }
    authorize(swiftRequest(req), c.account, 'read', c);
    if (index) {
      const o = await this.s.store.getObject(c.account, c.name, object + index);
      if (o) {
        await this.s.large.serve(req, reply, o, req.method === 'HEAD');
        return true;
      }
    }
    if (!listings) return this.error(req, reply, c, 404);
    const rows = await this.s.store.list('objects', c.account, c.name, {
      prefix: object || undefined,
      delimiter: '/',
      limit: 10000,
    });
    if (!rows.length && object) return this.error(req, reply, c, 404);
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
    reply.code(200).type('text/html; charset=UTF-8').send(body);
    return true;
  }

  private async error(req: FastifyRequest, reply: FastifyReply, c: ContainerRow, status: number): Promise<boolean> {
    const err = c.metadata['x-container-meta-web-error'];
    if (err) {
      const o = await this.s.store.getObject(c.account, c.name, `${status}${err}`);
      if (o) {
        reply.code(status).type(o.content_type);
        reply.send(await this.s.large.open(o));
        return true;
      }
    }
    void req;
    throw new ApiError(status, 'The resource could not be found.');
  }

  /** CORS headers on an actual request from an allowed origin. */
  async corsHeaders(req: FastifyRequest, reply: FastifyReply, account: string, container: string) {
    const origin = hdr(req, 'origin');
    if (!origin) return;
    const c = await this.s.store.getContainer(account, container);
    const allowed = (c?.metadata['x-container-meta-access-control-allow-origin'] ?? '').split(/\s+/).filter(Boolean);
    if (!allowed.includes('*') && !allowed.includes(origin)) return;
    reply.header('access-control-allow-origin', allowed.includes('*') && !req.headers['x-auth-token'] ? '*' : origin);
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
    for (const k of Object.keys(reply.getHeaders()))
      if (k.startsWith('x-object-meta-') || k.startsWith('x-container-meta-')) expose.push(k);
    const extra = c?.metadata['x-container-meta-access-control-expose-headers'];
    if (extra) expose.push(...extra.split(/[\s,]+/).filter(Boolean));
    reply.header('access-control-expose-headers', expose.join(', '));
  }

  /** OPTIONS preflight: 200 with the allowed methods when the container allows the origin, else 401. */
  async preflight(req: FastifyRequest, reply: FastifyReply) {
    const p = req.params as { account: string; container: string };
    const origin = hdr(req, 'origin');
    const method = hdr(req, 'access-control-request-method');
    const methods = 'HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE';
    if (!origin || !method) {
      reply.code(200).header('allow', methods).header('content-length', '0').type('text/html; charset=UTF-8').send();
      return reply;
    }
    const c = await this.s.store.getContainer(p.account, p.container);
    const allowed = (c?.metadata['x-container-meta-access-control-allow-origin'] ?? '').split(/\s+/).filter(Boolean);
    if (!c || (!allowed.includes('*') && !allowed.includes(origin)))
      throw new ApiError(
        401,
        'This server could not verify that you are authorized to access the document you requested.',
      );
    reply.code(200).headers({
      'access-control-allow-origin': allowed.includes('*') ? '*' : origin,
      'access-control-allow-methods': methods,
      'access-control-max-age': c.metadata['x-container-meta-access-control-max-age'] ?? '',
      allow: methods,
      'content-length': '0',
    });
    const reqHeaders = hdr(req, 'access-control-request-headers');
    if (reqHeaders) reply.header('access-control-allow-headers', reqHeaders);
    reply.type('text/html; charset=UTF-8').send();
    return reply;
  }
}

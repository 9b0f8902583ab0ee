// OS-OAUTH1 consumers: /v3/OS-OAUTH1/consumers CRUD. Request and access tokens (the
// delegation flow) are not implemented.
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Selectable } from 'kysely';
import type { ConsumerTable } from '../db/schema.ts';
import { json } from '../../core/db.ts';
import type { IdentityExtension } from '../extensions.ts';
import { newId, notFound } from '../backend.ts';
import { badRequest } from '../../core/errors.ts';
import { description, listBody, wrap, type Attrs } from './common.ts';

const render = (req: FastifyRequest, r: Selectable<ConsumerTable>) => ({
  ...json<Record<string, unknown>>(r.extra, {}),
  id: r.id,
  description: r.description ?? null,
  links: { self: `${req.baseUrl}/v3/OS-OAUTH1/consumers/${r.id}` },
});

export const oauth1Extension: IdentityExtension = {
  name: 'oauth1',
  routes(app, s) {
    const db = s.db;
    const get = async (id: string) => {
      const r = await db.selectFrom('consumer').selectAll().where('id', '=', id).executeTakeFirst();
      if (!r) throw notFound('consumer', id);
      return r;
    };
    app.post(
      '/v3/OS-OAUTH1/consumers',
      { schema: { body: wrap('consumer', { properties: { description } }) } },
      async (req, reply) => {
        req.authorize('identity:create_consumer');
        const {
          description: d,
          id: _i,
          secret: _s,
          links: _l,
          ...extra
        } = (req.body as { consumer: Attrs<{ description?: string; secret?: string }> }).consumer;
        const row = {
          id: newId(),
          description: d ?? null,
          secret: randomBytes(24).toString('base64url'),
          extra: JSON.stringify(extra),
        };
        await db.insertInto('consumer').values(row).execute();
        reply.code(201);
        return { consumer: { ...render(req, row), secret: row.secret } };
      },
    );
    app.get('/v3/OS-OAUTH1/consumers', async (req) => {
      req.authorize('identity:list_consumers');
      return listBody(
        req,
        'consumers',
        (await db.selectFrom('consumer').selectAll().execute()).map((r) => render(req, r)),
      );
    });
    app.get('/v3/OS-OAUTH1/consumers/:id', async (req) => {
      req.authorize('identity:get_consumer');
      return { consumer: render(req, await get((req.params as Record<string, string>).id)) };
    });
    app.patch(
      '/v3/OS-OAUTH1/consumers/:id',
      { schema: { body: wrap('consumer', { properties: { description } }) } },
      async (req) => {
        req.authorize('identity:update_consumer');
        const id = (req.params as Record<string, string>).id;
        const cur = await get(id);
        const {
          description: d,
          id: newIdValue,
          secret,
          links: _l,
          ...extra
        } = (req.body as { consumer: Attrs<{ description?: string; secret?: string }> }).consumer;
        if ((newIdValue !== undefined && newIdValue !== id) || secret !== undefined)
          throw badRequest('Cannot change consumer secret or id.', 'ValidationError');
        await db
          .updateTable('consumer')
          .set({
            ...(d !== undefined ? { description: d } : {}),
            extra: JSON.stringify({ ...json(cur.extra, {}), ...extra }),
          })
          .where('id', '=', id)
          .execute();
        return { consumer: render(req, await get(id)) };
      },
    );
    app.delete('/v3/OS-OAUTH1/consumers/:id', async (req, reply) => {
      req.authorize('identity:delete_consumer');
      const id = (req.params as Record<string, string>).id;
      await get(id);
      await db.deleteFrom('consumer').where('id', '=', id).execute();
      reply.code(204).send();
    });
  },
};

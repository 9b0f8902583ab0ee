// /resource_classes (1.2+) and /traits (1.6+): standard ones come from os-resource-classes and
// os-traits, custom ones (CUSTOM_*) are created by the API.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, perr } from './errors.ts';
import { cacheHeaders, jsonBody, queryParams, validateJson } from './util.ts';
import { mv } from './microversion.ts';
import type { PlacementService } from '../service.ts';
import { isStandardClass, isStandardTrait } from '../store.ts';
import { STANDARD_RESOURCE_CLASSES } from '../standard.ts';
import { absoluteUrl } from './common.ts';

const CUSTOM = '^CUSTOM_[A-Z0-9_]+$';
const RC_BODY = {
  type: 'object',
  properties: { name: { type: 'string', pattern: CUSTOM, maxLength: 255 } },
  required: ['name'],
  additionalProperties: false,
};
const TRAIT_LIST = {
  type: 'object',
  properties: { name: { type: 'string' }, associated: { type: 'string' } },
  additionalProperties: false,
};

export function registerClassAndTraitRoutes(app: FastifyInstance, svc: PlacementService) {
  const store = svc.store;
  const rcLink = (req: FastifyRequest, name: string) => ({
    name,
    links: [{ rel: 'self', href: `${req.service?.prefix ?? ''}/resource_classes/${name}` }],
  });

  app.get('/resource_classes', async (req, reply) => {
    req.authorize('placement:resource_classes:list');
    const custom = await store.customClasses();
    cacheHeaders(req, reply);
    return {
      resource_classes: [...STANDARD_RESOURCE_CLASSES, ...custom.map((c) => c.name)].map((n) => rcLink(req, n)),
    };
  });

  app.post('/resource_classes', async (req, reply) => {
    req.authorize('placement:resource_classes:create');
    const { name } = jsonBody<{ name: string }>(req, RC_BODY);
    if (!(await store.createClass(name)))
      throw perr(409, `Conflicting resource class already exists: ${name}`, ErrorCode.DUPLICATE_NAME);
    reply.code(201).header('location', absoluteUrl(req, `${req.service?.prefix ?? ''}/resource_classes/${name}`));
    return reply.send();
  });

  app.get('/resource_classes/:name', async (req, reply) => {
    req.authorize('placement:resource_classes:show');
    const name = (req.params as Record<string, string>).name;
    if (!(await store.classExists(name))) throw perr(404, `No such resource class ${name}.`);
    cacheHeaders(req, reply);
    return rcLink(req, name);
  });

  app.put('/resource_classes/:name', async (req, reply) => {
    req.authorize('placement:resource_classes:update');
    const name = (req.params as Record<string, string>).name;
    if (mv(req).gte('1.7')) {
      // Bodiless create-or-verify.
      validateJson({ name }, RC_BODY);
      const created = await store.createClass(name);
      reply
        .code(created ? 201 : 204)
        .header('location', absoluteUrl(req, `${req.service?.prefix ?? ''}/resource_classes/${name}`));
      return reply.send();
    }
    const { name: to } = jsonBody<{ name: string }>(req, RC_BODY);
    if (isStandardClass(name)) throw perr(400, `Cannot update standard resource class ${name}`);
    if (!(await store.classExists(name))) throw perr(404, `No such resource class ${name}.`);
    if (await store.classExists(to)) throw perr(409, `Resource class already exists: ${to}`, ErrorCode.DUPLICATE_NAME);
    await store.renameClass(name, to);
    return rcLink(req, to);
  });

  app.delete('/resource_classes/:name', async (req, reply) => {
    req.authorize('placement:resource_classes:delete');
    const name = (req.params as Record<string, string>).name;
    if (isStandardClass(name))
      throw perr(400, `Error in delete resource class '${name}': Cannot delete standard resource class ${name}.`);
    if (!(await store.classExists(name))) throw perr(404, `No such resource class ${name}.`);
    if (await store.classInUse(name))
      throw perr(
        409,
        `Error in delete resource class '${name}': Cannot delete resource class ${name}. Class is in use in inventory.`,
      );
    await store.deleteClass(name);
    return reply.code(204).send();
  });

  app.get('/traits', async (req, reply) => {
    req.authorize('placement:traits:list');
    const q = queryParams(req, TRAIT_LIST);
    let names = await store.allTraits();
    if (q.name !== undefined) {
      if (q.name.startsWith('startswith:')) {
        const p = q.name.slice(11);
        names = names.filter((n) => n.startsWith(p));
      } else if (q.name.startsWith('in:')) {
        const s = new Set(q.name.slice(3).split(','));
        names = names.filter((n) => s.has(n));
      } else
        throw perr(
          400,
          `Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: "${q.name}"`,
        );
    }
    if (q.associated !== undefined) {
      if (q.associated !== 'true' && q.associated !== 'false')
        throw perr(400, `The query parameter "associated" only accepts "true" or "false"`);
      const used = await store.associatedTraits();
      names = names.filter((n) => used.has(n) === (q.associated === 'true'));
    }
    cacheHeaders(req, reply);
    return { traits: names.sort() };
  });

  app.get('/traits/:name', async (req, reply) => {
    req.authorize('placement:traits:show');
    const name = (req.params as Record<string, string>).name;
    if (!(await store.traitExists(name))) throw perr(404, `No such trait(s): ${name}.`);
    cacheHeaders(req, reply);
    return reply.code(204).send();
  });

  app.put('/traits/:name', async (req, reply) => {
    req.authorize('placement:traits:update');
    const name = (req.params as Record<string, string>).name;
    if (!new RegExp(CUSTOM).test(name) || name.length > 255) {
      throw perr(
        400,
        'The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix "CUSTOM_" and use following characters: "A"-"Z", "0"-"9" and "_"',
      );
    }
    const created = await store.createTrait(name);
    reply.code(created ? 201 : 204).header('location', absoluteUrl(req, `${req.service?.prefix ?? ''}/traits/${name}`));
    cacheHeaders(req, reply);
    return reply.send();
  });

  app.delete('/traits/:name', async (req, reply) => {
    req.authorize('placement:traits:delete');
    const name = (req.params as Record<string, string>).name;
    if (isStandardTrait(name)) throw perr(400, `Cannot delete standard trait ${name}.`);
    if (!(await store.traitExists(name))) throw perr(404, `No such trait(s): ${name}.`);
    if (await store.traitInUse(name)) throw perr(409, `The trait ${name} is in use by a resource provider.`);
    await store.deleteTrait(name);
    return reply.code(204).send();
  });
}

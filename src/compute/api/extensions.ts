// The extensions list of v2.1 (nova.api.openstack.compute.extension_info): a fixed list kept for
// clients of v2.0 days, every entry "updated" on the same day. The list (alias, name, description) is
// extensions.json, generated from python3-nova 26.
import type { FastifyRequest } from 'fastify';
import type { ComputeService } from '../service.ts';
import { authorize, notFound } from './common.ts';
import extensions from './extensions.json' with { type: 'json' };

const EXTENSIONS = extensions as Array<[alias: string, name: string, description: string]>;

const view = ([alias, name, description]: [string, string, string]) => ({
  alias,
  description,
  links: [],
  name,
  namespace: 'http://docs.openstack.org/compute/ext/fake_xml',
  updated: '2014-12-03T00:00:00Z',
});

export async function listExtensions(svc: ComputeService, req: FastifyRequest) {
  authorize(req, 'os_compute_api:extensions', {});
  return { extensions: EXTENSIONS.map(view) };
}
export async function showExtension(svc: ComputeService, req: FastifyRequest<{ Params: { alias: string } }>) {
  authorize(req, 'os_compute_api:extensions', {});
  const ext = EXTENSIONS.find((e) => e[0] === req.params.alias);
  if (!ext) throw notFound('The resource could not be found.');
  return { extension: view(ext) };
}

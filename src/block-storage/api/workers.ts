// POST /workers/cleanup (3.24, admin): the services whose left-over work should be cleaned,
// as cinder's WorkerController and the scheduler's work_cleanup choose them: the service rows
// the body's filters select (`is_up` false when absent: the services that are down), each one
// `cleaning` when a service can do it (a scheduler: any scheduler will; a volume service: itself,
// when up, told by the `do_cleanup` cast) and `unavailable` otherwise.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import { validate } from '../../core/validate.ts';
import { type ServiceRow, serviceUp } from '../heartbeat.ts';
import { backendOf, volumeRpc } from '../rpcapi.ts';
import type { BlockStorageService } from '../service.ts';
import { at, badRequest, boolParam } from './common.ts';

const flag = { anyOf: [{ type: 'boolean' }, { type: 'string' }] };
const cleanupSchema = {
  anyOf: [
    { type: 'null' },
    {
      type: 'object',
      properties: {
        cluster_name: { type: ['string', 'null'], maxLength: 255 },
        disabled: flag,
        host: { type: ['string', 'null'], maxLength: 255 },
        is_up: flag,
        binary: { type: ['string', 'null'], enum: ['cinder-volume', 'cinder-scheduler', 'cinder-backup', null] },
        resource_id: { type: ['string', 'null'], format: 'uuid' },
        resource_type: { type: ['string', 'null'] },
        service_id: { type: ['string', 'integer', 'null'] },
      },
      additionalProperties: false,
    },
  ],
};

interface CleanupBody {
  cluster_name?: string | null;
  disabled?: boolean | string;
  host?: string | null;
  is_up?: boolean | string;
  binary?: string | null;
  resource_id?: string | null;
  resource_type?: string | null;
  service_id?: string | number | null;
}

/** Cinder's cleanable resource types. */
const CLEANABLE = ['Volume', 'Snapshot'];
/** The statuses a crash leaves behind (what an agent's cleanup settles). */
const TRANSIENT = [
  'creating',
  'deleting',
  'extending',
  'downloading',
  'uploading',
  'reverting',
  'managing',
  'unmanaging',
];

const asBool = (v: boolean | string | undefined, name: string) =>
  v === undefined ? undefined : typeof v === 'boolean' ? v : boolParam(v, name);

/** workers_view.service_list: a service as the cleanup answer names it. */
const view = (s: ServiceRow) => ({ id: s.id, host: s.host, binary: s.binary, cluster_name: null });

export async function cleanupWorkers(svc: BlockStorageService, req: FastifyRequest, reply: FastifyReply) {
  if (!at(req, '3.24')) throw new ApiError(404, 'The resource could not be found.');
  req.authorize('workers:cleanup');
  const b = validate<CleanupBody | null>(req.body ?? null, cleanupSchema) ?? {};
  const disabled = asBool(b.disabled, 'disabled');
  // Absent, is_up is false (the CleanupRequest's default): the services that are down.
  const isUp = asBool(b.is_up, 'is_up') ?? false;
  let resourceType: string | undefined;
  if (b.resource_type) {
    resourceType = b.resource_type.charAt(0).toUpperCase() + b.resource_type.slice(1).toLowerCase();
    if (!CLEANABLE.includes(resourceType))
      throw badRequest(
        `Invalid input received: Resource type ${b.resource_type} not valid, must be Volume or Snapshot`,
      );
  }
  let serviceHost = b.host ?? undefined;
  if (b.resource_id && b.service_id == null && b.cluster_name == null && b.host == null) {
    // Where the resource is being worked on: its backend, when a status says work was left.
    const volume =
      resourceType !== 'Snapshot'
        ? await svc.db
            .selectFrom('volumes')
            .selectAll()
            .where('id', '=', b.resource_id)
            .where('deleted', '=', 0)
            .executeTakeFirst()
        : undefined;
    const snapshot =
      !volume && resourceType !== 'Volume'
        ? await svc.db
            .selectFrom('snapshots')
            .selectAll()
            .where('id', '=', b.resource_id)
            .where('deleted', '=', 0)
            .executeTakeFirst()
        : undefined;
    const host = volume
      ? TRANSIENT.includes(volume.status) && volume.host
      : snapshot && TRANSIENT.includes(snapshot.status)
        ? (await svc.db.selectFrom('volumes').select('host').where('id', '=', snapshot.volume_id).executeTakeFirst())
            ?.host
        : undefined;
    if (!host)
      throw badRequest(`Invalid input received: There is no resource with UUID ${b.resource_id} pending cleanup.`);
    serviceHost = backendOf(host);
  }
  let rows = await svc.db.selectFrom('services').selectAll().orderBy('binary').orderBy('host').execute();
  if (b.service_id != null) rows = rows.filter((s) => s.id === String(b.service_id));
  // No service here is clustered: a cluster name selects none.
  if (b.cluster_name != null) rows = [];
  if (serviceHost) rows = rows.filter((s) => s.host === serviceHost || s.host.split('@')[0] === serviceHost);
  if (b.binary) rows = rows.filter((s) => s.binary === b.binary);
  if (disabled !== undefined) rows = rows.filter((s) => Boolean(s.disabled) === disabled);
  const up = (s: ServiceRow) => serviceUp(s, svc.options.serviceDownTime);
  rows = rows.filter((s) => up(s) === isUp);
  const cleaning: ServiceRow[] = [];
  const unavailable: ServiceRow[] = [];
  for (const s of rows) {
    if (s.binary === 'cinder-scheduler') cleaning.push(s);
    else if (s.binary === 'cinder-volume' && up(s)) {
      volumeRpc(svc.ctx.bus).cast(s.host, req.context.toRpc()).do_cleanup({ request_id: req.context.requestId });
      cleaning.push(s);
    } else unavailable.push(s);
  }
  reply.code(202);
  return { cleaning: cleaning.map(view), unavailable: unavailable.map(view) };
}

// Metering (`metering` and `metering_source_and_destination_fields`: neutron/db/metering and the
// metering service plugin, Zed): labels (admin only, optionally shared by every project's
// routers) and their rules (a direction, excluded, and a remote or source/destination prefix).
// Labels and rules are not updatable; a label's rules go with it.
import { ApiError } from '../../core/errors.ts';
import type { NetworkService } from '../service.ts';
import { parseCidr, cidrsOverlap, type Cidr } from '../../core/netaddr.ts';
import { toBoolean, toEnum, toString, toUuid } from './validate.ts';

const labelNotFound = (id: string) =>
  new ApiError(404, `Metering label '${id}' does not exist.`, 'MeteringLabelNotFound');
const ruleNotFound = (id: string) =>
  new ApiError(404, `Metering label rule '${id}' does not exist.`, 'MeteringLabelRuleNotFound');
const invalid = (m: string) => new ApiError(400, m, 'Invalid');

/** The plugin's ip_interface check: an address, with or without a prefix length; shown as address/prefixlen. */
function toPrefix(v: unknown, attr: string): string | null {
  if (v === null || v === undefined || v === '') return null;
  const c = typeof v === 'string' ? parseCidr(v, { allowBareIp: true }) : null;
  if (!c)
    throw invalid(
      `${attr}: ${String(v)} is invalid [${JSON.stringify(String(v))} does not appear to be an IPv4 or IPv6 interface].`,
    );
  const s = v as string;
  return s.includes('/') ? s : `${s}/${c.version === 4 ? 32 : 128}`;
}

export function defineMetering(svc: NetworkService) {
  svc.define({
    singular: 'metering_label',
    plural: 'metering_labels',
    table: 'metering_labels',
    standard: false,
    attrs: {
      name: { post: true, default: '', validate: (v, n) => toString(v, n, 255) },
      description: { post: true, default: '', validate: (v, n) => toString(v, n, 1024) },
      shared: { type: 'boolean', post: true, default: false, validate: (v, n) => toBoolean(v, n) },
    },
    notFound: labelNotFound,
  });
  svc.define({
    singular: 'metering_label_rule',
    plural: 'metering_label_rules',
    table: 'metering_label_rules',
    standard: false,
    owned: false,
    attrs: {
      metering_label_id: { post: true, required: true, validate: (v, n) => toUuid(v, n) },
      direction: { post: true, required: true, validate: (v, n) => toEnum(v, n, ['ingress', 'egress'] as const) },
      excluded: { type: 'boolean', post: true, default: false, validate: (v, n) => toBoolean(v, n) },
      remote_ip_prefix: { post: true, default: null, validate: (v, n) => toPrefix(v, n) },
      source_ip_prefix: { post: true, default: null, validate: (v, n) => toPrefix(v, n) },
      destination_ip_prefix: { post: true, default: null, validate: (v, n) => toPrefix(v, n) },
      // Accepted in a POST as upstream's attribute map has them; a rule belongs to its label's project.
      project_id: { column: false, post: true, visible: false, filter: false },
      tenant_id: { column: false, post: true, visible: false, filter: false },
    },
    notFound: ruleNotFound,
    async beforeCreate(values, _req, tx) {
      delete values.project_id;
      delete values.tenant_id;
      if (values.remote_ip_prefix && (values.source_ip_prefix || values.destination_ip_prefix)) {
        throw invalid(
          "Cannot use 'remote-ip-prefix' in conjunction with 'source-ip-prefix' or 'destination-ip-prefix'.",
        );
      }
      if (!values.remote_ip_prefix && !values.source_ip_prefix && !values.destination_ip_prefix) {
        throw invalid(
          "You must define at least one of the following parameters 'remote_ip_prefix', or 'source_ip_prefix' or 'destination_ip_prefix'.",
        );
      }
      const label = await tx
        .selectFrom('metering_labels')
        .select('id')
        .where('id', '=', values.metering_label_id)
        .executeTakeFirst();
      if (!label) throw labelNotFound(values.metering_label_id);
      if (values.remote_ip_prefix) {
        const mine = parseCidr(values.remote_ip_prefix) as Cidr;
        const others = await tx
          .selectFrom('metering_label_rules')
          .select('remote_ip_prefix')
          .where('metering_label_id', '=', values.metering_label_id)
          .where('direction', '=', values.direction)
          .where('excluded', '=', values.excluded ? 1 : 0)
          .where('remote_ip_prefix', 'is not', null)
          .execute();
        for (const o of others) {
          const c = parseCidr(o.remote_ip_prefix);
          if (c && c.version === mine.version && cidrsOverlap(c, mine)) {
            throw new ApiError(
              409,
              `Metering label rule with remote_ip_prefix '${values.remote_ip_prefix}' overlaps another.`,
              'MeteringLabelRuleOverlaps',
            );
          }
        }
      }
    },
  });
  svc.declareExtension(
    {
      alias: 'metering',
      name: 'Neutron Metering',
      description: 'Neutron Metering extension.',
      updated: '2013-06-12T10:00:00-00:00',
    },
    {
      alias: 'metering_source_and_destination_fields',
      name: 'Neutron Metering with source and destination filtering',
      description:
        'Neutron Metering extension that enables the use of source and destination IP prefixes to create metering label rules.',
      updated: '2020-08-21T08:12:00-00:00',
    },
  );
}

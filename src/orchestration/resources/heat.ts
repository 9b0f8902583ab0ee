// The OS::Heat:: resources that need no other service: TestResource, RandomString, Value, None,
// ResourceGroup, Stack, the software configs, and the wait conditions.
import { randomBytes, randomUUID } from 'node:crypto';
import { HeatError } from '../errors.ts';
import {
  NoActionRequired,
  type PropertySchema,
  type ResourceContext,
  type ResourcePlugin,
  type StoredResource,
  UpdateReplace,
} from './plugin.ts';
import { ec2SignedUrl, resourceArn } from '../cfn/signer.ts';
import { type SwiftSignalData, deleteSwiftSignal, swiftSignalUrl, swiftSignals } from './swiftsignal.ts';

const SUPPORTED = { status: 'SUPPORTED' as const, version: null, message: null };

const num = (v: unknown, d = 0) => (typeof v === 'number' ? v : d);

export const TestResource: ResourcePlugin = {
  type: 'OS::Heat::TestResource',
  description: 'A resource which stores the string value that was provided, for testing.',
  supportStatus: { status: 'SUPPORTED', version: '5.0.0', message: null },
  properties: {
    value: {
      type: 'string',
      description: 'The input string to be stored.',
      default: 'test_string',
      update_allowed: true,
    },
    fail: {
      type: 'boolean',
      description: 'Value which can be set to fail the resource operation to test failure scenarios.',
      default: false,
      update_allowed: true,
    },
    update_replace: {
      type: 'boolean',
      description: 'Value which can be set to trigger update replace for the particular resource.',
      default: false,
      update_allowed: true,
    },
    update_replace_value: { type: 'string', description: 'Some value that can be stored but can not be updated.' },
    wait_secs: {
      type: 'number',
      description: 'Seconds to wait after an action (-1 is infinite).',
      default: 0,
      update_allowed: true,
    },
    action_wait_secs: {
      type: 'map',
      description: 'Options for simulating waiting.',
      update_allowed: true,
      schema: {
        create: { type: 'number', description: 'Seconds to wait after a create.' },
        update: { type: 'number', description: 'Seconds to wait after an update.' },
        delete: { type: 'number', description: 'Seconds to wait after a delete.' },
      },
    },
    attr_wait_secs: {
      type: 'number',
      description: 'Number value for timeout during resolving output value.',
      default: 0,
      update_allowed: true,
    },
    client_name: { type: 'string', description: 'Client to use for the fake resource.', default: '' },
    entity_name: { type: 'string', description: 'Client entity to poll.', default: '' },
    constraint_prop_secs: {
      type: 'number',
      description: 'Number value for delay during resolve constraint.',
      default: 0,
      update_allowed: true,
    },
  },
  attributes: {
    output: {
      description: 'The string that was stored. This value is also available by referencing the resource.',
      type: 'string',
    },
  },
  async create(r) {
    await waitFor(r, 'create');
    if (r.properties.fail) throw new Error('Test Resource failed oops');
    r.physicalId = `${r.stack.name}-${r.name}-${randomBytes(6).toString('hex')}`;
  },
  async update(r, changed) {
    if (r.properties.update_replace || changed.includes('update_replace_value')) throw new UpdateReplace(r.name);
    await waitFor(r, 'update');
    if (r.properties.fail) throw new Error('Test Resource failed oops');
  },
  async delete(r) {
    await waitFor(r, 'delete');
  },
  async resolveAttributes(r) {
    return { output: r.properties.value };
  },
  refId: (r) => r.physicalId,
};

async function waitFor(r: ResourceContext, action: 'create' | 'update' | 'delete') {
  const per = (r.properties.action_wait_secs ?? {}) as Record<string, unknown>;
  const secs = per[action] !== undefined && per[action] !== null ? num(per[action]) : num(r.properties.wait_secs);
  if (secs > 0) await r.sleep(secs * 1000);
}

const SEQUENCES: Record<string, string> = {
  lettersdigits: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  letters: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
  lowercase: 'abcdefghijklmnopqrstuvwxyz',
  uppercase: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  hexdigits: '0123456789abcdefABCDEF',
  octdigits: '01234567',
};

function pick(chars: string, n: number): string {
  const bytes = randomBytes(n * 2);
  let s = '';
  for (let i = 0; i < n; i++) s += chars[bytes.readUInt16LE(i * 2) % chars.length];
  return s;
}

export const RandomString: ResourcePlugin = {
  type: 'OS::Heat::RandomString',
  description: 'A resource which generates a random string.',
  supportStatus: SUPPORTED,
  properties: {
    length: {
      type: 'integer',
      description: 'Length of the string to generate.',
      default: 32,
      constraints: [{ range: { min: 1, max: 512 } }],
    },
    sequence: {
      type: 'string',
      description: 'Sequence of characters to build the random string from.',
      constraints: [{ allowed_values: Object.keys(SEQUENCES) }],
    },
    character_classes: {
      type: 'list',
      description: 'A list of character class and their constraints to generate the random string from.',
      schema: {
        '*': {
          type: 'map',
          schema: {
            class: {
              type: 'string',
              default: 'lettersdigits',
              constraints: [{ allowed_values: Object.keys(SEQUENCES) }],
            },
            min: { type: 'integer', default: 1, constraints: [{ range: { min: 1, max: 512 } }] },
          },
        },
      },
    },
    character_sequences: {
      type: 'list',
      description: 'A list of character sequences and their constraints to generate the random string from.',
      schema: {
        '*': {
          type: 'map',
          schema: {
            sequence: { type: 'string', required: true },
            min: { type: 'integer', default: 1, constraints: [{ range: { min: 1, max: 512 } }] },
          },
        },
      },
    },
    salt: {
      type: 'string',
      description:
        'Value which can be set or changed on stack update to trigger the resource for replacement with a new random string.',
    },
  },
  attributes: { value: { description: 'The random string generated by this resource.', type: 'string' } },
  async create(r) {
    const length = num(r.properties.length, 32);
    const classes = (r.properties.character_classes ?? []) as Array<{ class: string; min: number }>;
    const seqs = (r.properties.character_sequences ?? []) as Array<{ sequence: string; min: number }>;
    let required = '';
    let pool = '';
    for (const c of classes) {
      const chars = SEQUENCES[c.class] ?? SEQUENCES.lettersdigits!;
      required += pick(chars, c.min);
      pool += chars;
    }
    for (const s of seqs) {
      required += pick(s.sequence, s.min);
      pool += s.sequence;
    }
    if (required.length > length)
      throw new HeatError(
        'StackValidationFailed',
        'Length property cannot be smaller than combined character class and character sequence minimums',
      );
    if (!pool) pool = SEQUENCES[(r.properties.sequence as string) ?? 'lettersdigits'] ?? SEQUENCES.lettersdigits!;
    const chars = (required + pick(pool, length - required.length)).split('');
    // Shuffle so that the required characters are not all at the start.
    const rnd = randomBytes(chars.length * 2);
    for (let i = chars.length - 1; i > 0; i--) {
      const j = rnd.readUInt16LE(i * 2) % (i + 1);
      [chars[i], chars[j]] = [chars[j]!, chars[i]!];
    }
    r.data.value = chars.join('');
    r.physicalId = r.data.value as string;
  },
  async delete() {},
  async resolveAttributes(r) {
    return { value: r.data.value };
  },
  refId: (r) => (r.data.value as string) ?? null,
};

export const Value: ResourcePlugin = {
  type: 'OS::Heat::Value',
  description: 'A resource which exposes its value property as an attribute.',
  supportStatus: { status: 'SUPPORTED', version: '7.0.0', message: null },
  properties: {
    value: {
      type: 'json',
      description: 'The expression to generate the "value" attribute.',
      required: true,
      update_allowed: true,
    },
    type: {
      type: 'string',
      description: 'The type of the "value" property.',
      update_allowed: true,
      constraints: [{ allowed_values: ['string', 'number', 'comma_delimited_list', 'json', 'boolean'] }],
    },
  },
  attributes: {
    value: {
      description:
        'The value generated by this resource\'s properties "value" expression, with type determined from the properties "type".',
    },
  },
  async create(r) {
    r.physicalId = `${r.stack.name}-${r.name}-${randomBytes(6).toString('hex')}`;
  },
  async update() {},
  async delete() {},
  async resolveAttributes(r) {
    const v = r.properties.value;
    switch (r.properties.type) {
      case 'string':
        return { value: typeof v === 'string' ? v : JSON.stringify(v) };
      case 'number':
        return { value: Number(v) };
      case 'boolean':
        return { value: v === true || String(v).toLowerCase() === 'true' };
      case 'comma_delimited_list':
        return { value: Array.isArray(v) ? v : String(v).split(',') };
      default:
        return { value: v };
    }
  },
};

export const NoneResource: ResourcePlugin = {
  type: 'OS::Heat::None',
  description: 'Enables easily disabling certain resources via the resource_registry: it does nothing.',
  supportStatus: { status: 'SUPPORTED', version: '5.0.0', message: null },
  anyProperties: true,
  properties: {},
  attributes: {},
  async create(r) {
    r.physicalId = `${r.stack.name}-${r.name}-${randomBytes(6).toString('hex')}`;
  },
  async update() {},
  async delete() {},
};

// ---- nested stacks -----------------------------------------------------------------------

/** OS::Heat::Stack: a stack created from a template given in the properties (local region). */
export const StackResource: ResourcePlugin = {
  type: 'OS::Heat::Stack',
  description: 'A resource representing a stack (created in this region).',
  supportStatus: SUPPORTED,
  properties: {
    context: { type: 'map', description: 'Context for this stack.', schema: { region_name: { type: 'string' } } },
    template: {
      type: 'string',
      description: 'Template that specifies the stack to be created as a resource.',
      required: true,
      update_allowed: true,
    },
    timeout: {
      type: 'integer',
      description: 'Number of minutes to wait for this stack creation.',
      update_allowed: true,
    },
    parameters: {
      type: 'map',
      description: 'Set of parameters passed to this stack.',
      default: {},
      update_allowed: true,
    },
  },
  attributes: {
    stack_name: { description: 'Name of the stack.', type: 'string' },
    outputs: { description: 'A dict of key-value pairs output from the stack.', type: 'map' },
  },
  async create(r) {
    r.physicalId = await r.nested.apply(
      r.properties.template as string,
      (r.properties.parameters ?? {}) as Record<string, unknown>,
    );
  },
  async update(r) {
    r.physicalId = await r.nested.apply(
      r.properties.template as string,
      (r.properties.parameters ?? {}) as Record<string, unknown>,
    );
  },
  async delete(r) {
    await r.nested.delete();
  },
  async resolveAttributes(r) {
    return { stack_name: `${r.stack.name}-${r.name}`, outputs: await r.nested.outputs() };
  },
  suspend: (r) => r.nested.action('SUSPEND'),
  resume: (r) => r.nested.action('RESUME'),
  check: (r) => r.nested.action('CHECK'),
};

/** OS::Heat::ResourceGroup: `count` copies of `resource_def`, as a nested stack named 0..count-1. */
export const ResourceGroup: ResourcePlugin = {
  type: 'OS::Heat::ResourceGroup',
  description: 'Creates one or more identically configured nested resources.',
  supportStatus: { status: 'SUPPORTED', version: '2014.1', message: null },
  properties: {
    count: {
      type: 'integer',
      description: 'The number of resources to create.',
      default: 1,
      update_allowed: true,
      constraints: [{ range: { min: 0 } }],
    },
    index_var: {
      type: 'string',
      description:
        'A variable that this resource will use to replace with the current index of a given resource in the group.',
      default: '%index%',
    },
    resource_def: {
      type: 'map',
      description: 'Resource definition for the resources in the group.',
      required: true,
      update_allowed: true,
      schema: {
        type: { type: 'string', description: 'The type of the resources in the group.', required: true },
        properties: { type: 'map', description: 'Property values for the resources in the group.' },
        metadata: { type: 'map', description: 'Supplied metadata for the resources in the group.' },
      },
    },
    removal_policies: {
      type: 'list',
      description: 'Policies for removal of resources on update.',
      default: [],
      update_allowed: true,
    },
    removal_policies_mode: {
      type: 'string',
      description: 'How to handle changes to removal_policies on update.',
      default: 'append',
      update_allowed: true,
      constraints: [{ allowed_values: ['append', 'update'] }],
    },
  },
  attributes: {
    refs: { description: 'A list of resource IDs for the resources in the group.', type: 'list' },
    refs_map: { description: 'A map of resource names to IDs for the resources in the group.', type: 'map' },
    removed_rsrc_list: { description: 'A list of removed resource names.', type: 'list' },
    attributes: {
      description: 'A map of resource names to the specified attribute of each individual resource.',
      type: 'map',
    },
  },
  async create(r) {
    r.physicalId = await r.nested.apply(groupTemplate(r), {});
    r.data.members = await r.nested.resources();
  },
  async update(r) {
    r.physicalId = await r.nested.apply(groupTemplate(r), {});
    r.data.members = await r.nested.resources();
  },
  async delete(r) {
    await r.nested.delete();
  },
  async resolveAttributes(r) {
    const { members, names } = groupMembers(r.data);
    return {
      ...memberRefs(members, names),
      removed_rsrc_list: [],
    };
  },
  attribute(state: StoredResource, name: string) {
    const { members, names } = groupMembers(state.data);
    const m = /^resource\.(\d+)(?:\.(.+))?$/.exec(name);
    if (m) {
      const member = members[m[1]!];
      if (!member) throw new HeatError('InvalidTemplateAttribute', `Member '${m[1]}' not found in group resource.`);
      return m[2] ? member.attributes[m[2]] : member.refId;
    }
    return names.map((n) => members[n]!.attributes[name]);
  },
  suspend: (r) => r.nested.action('SUSPEND'),
  resume: (r) => r.nested.action('RESUME'),
  check: (r) => r.nested.action('CHECK'),
};

/** A member of a group (ResourceGroup, AutoScalingGroup) as its data keeps it: its reference and attributes. */
type GroupMember = { refId: string | null; attributes: Record<string, unknown> };

/** A group's members (its nested stack's resources, named by index) and their names in index order. */
function groupMembers(data: Record<string, unknown>): { members: Record<string, GroupMember>; names: string[] } {
  const members = (data.members ?? {}) as Record<string, GroupMember>;
  return { members, names: Object.keys(members).sort((a, b) => Number(a) - Number(b)) };
}

/** The attributes `refs` and `refs_map` of a group: its members' references, in index order and by name. */
function memberRefs(members: Record<string, GroupMember>, names: string[]) {
  return {
    refs: names.map((n) => members[n]!.refId),
    refs_map: Object.fromEntries(names.map((n) => [n, members[n]!.refId])),
  };
}

function replaceIndex(v: unknown, indexVar: string, i: number): unknown {
  if (typeof v === 'string') return v.split(indexVar).join(String(i));
  if (Array.isArray(v)) return v.map((x) => replaceIndex(x, indexVar, i));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceIndex(x, indexVar, i)]));
  return v;
}

function groupTemplate(r: ResourceContext): object {
  const def = r.properties.resource_def as {
    type: string;
    properties?: Record<string, unknown>;
    metadata?: Record<string, unknown>;
  };
  const indexVar = (r.properties.index_var as string) || '%index%';
  const count = num(r.properties.count, 1);
  const resources: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    resources[String(i)] = {
      type: def.type,
      ...(def.properties ? { properties: replaceIndex(def.properties, indexVar, i) } : {}),
      ...(def.metadata ? { metadata: def.metadata } : {}),
    };
  }
  return { heat_template_version: '2015-04-30', resources };
}

// ---- software configuration ---------------------------------------------------------------

const CONFIG_PROPS = {
  group: {
    type: 'string' as const,
    description: 'Namespace to group this software config by when delivered to a server.',
    default: 'Heat::Ungrouped',
  },
  inputs: {
    type: 'list' as const,
    description: 'Schema representing the inputs that this software config is expecting.',
    default: [],
  },
  outputs: {
    type: 'list' as const,
    description: 'Schema representing the outputs that this software config will produce.',
    default: [],
  },
  options: {
    type: 'map' as const,
    description: 'Map containing options specific to the configuration management tool used by this resource.',
    default: {},
  },
};

/** Stores a software config through the orchestration API itself (as Heat's resources do through heatclient). */
async function storeConfig(r: ResourceContext, group: string, config: string) {
  const body = await r.api<{ software_config: { id: string } }>('orchestration', 'POST', '/software_configs', {
    name: `${r.stack.name}-${r.name}-${randomBytes(6).toString('hex')}`,
    group,
    config,
    inputs: r.properties.inputs ?? [],
    outputs: r.properties.outputs ?? [],
    options: r.properties.options ?? {},
  });
  r.physicalId = body.software_config.id;
  r.data.config = config;
}

/**
 * A software config resource: its text (from its properties) stored as a software config when created, deleted
 * with the resource, and shown as the attribute `config`.
 */
function configResource(o: {
  type: string;
  description: string;
  properties: Record<string, PropertySchema>;
  group(r: ResourceContext): string;
  config(r: ResourceContext): string | Promise<string>;
}): ResourcePlugin {
  return {
    type: o.type,
    description: o.description,
    supportStatus: { status: 'SUPPORTED', version: '2014.1', message: null },
    properties: o.properties,
    attributes: { config: { description: 'The config value of the software config.', type: 'string' } },
    create: async (r) => storeConfig(r, o.group(r), await o.config(r)),
    async delete(r) {
      if (r.physicalId)
        await r.api('orchestration', 'DELETE', `/software_configs/${r.physicalId}`, undefined, [204, 404]);
    },
    async resolveAttributes(r) {
      return { config: r.data.config };
    },
  };
}

export const SoftwareConfig = configResource({
  type: 'OS::Heat::SoftwareConfig',
  description: 'A resource for describing and storing software configuration.',
  properties: {
    ...CONFIG_PROPS,
    config: {
      type: 'string',
      description: 'Configuration script or manifest which specifies what actual configuration is performed.',
    },
  },
  group: (r) => r.properties.group as string,
  config: (r) => (r.properties.config as string) ?? '',
});

export const StructuredConfig = configResource({
  type: 'OS::Heat::StructuredConfig',
  description: 'A resource which has same logic with OS::Heat::SoftwareConfig, with a map for the config.',
  properties: {
    ...CONFIG_PROPS,
    config: {
      type: 'map',
      description: 'Map representing the configuration data structure which will be serialized to JSON format.',
    },
  },
  group: (r) => r.properties.group as string,
  config: (r) => JSON.stringify(r.properties.config ?? {}),
});

export const CloudConfig = configResource({
  type: 'OS::Heat::CloudConfig',
  description: 'A configuration resource for representing cloud-init cloud-config.',
  properties: {
    cloud_config: {
      type: 'map',
      description: 'Map representing the cloud-config data structure which will be formatted as YAML.',
      default: {},
    },
  },
  group: () => 'Heat::Ungrouped',
  async config(r) {
    const { stringify } = await import('yaml');
    return `#cloud-config\n${stringify(r.properties.cloud_config ?? {})}`;
  },
});

export const MultipartMime = configResource({
  type: 'OS::Heat::MultipartMime',
  description: 'Assembles a collection of software configurations as a multi-part mime message.',
  properties: {
    parts: {
      type: 'list',
      description: 'Parts belonging to this message.',
      default: [],
      schema: {
        '*': {
          type: 'map',
          schema: {
            config: {
              type: 'string',
              description:
                'Content of part to attach, either inline or by referencing the ID of another software config resource.',
              required: true,
            },
            filename: { type: 'string', description: 'Optional filename to associate with part.' },
            type: {
              type: 'string',
              description: 'Whether the part content is text or multipart.',
              default: 'text',
              constraints: [{ allowed_values: ['text', 'multipart'] }],
            },
            subtype: { type: 'string', description: 'Optional subtype to specify with the type.' },
          },
        },
      },
    },
    group: CONFIG_PROPS.group,
  },
  group: (r) => (r.properties.group as string) ?? 'Heat::Ungrouped',
  async config(r) {
    const boundary = `===============${randomBytes(8).toString('hex')}==`;
    const parts = (r.properties.parts ?? []) as Array<{ config: string; filename?: string; subtype?: string }>;
    let out = `Content-Type: multipart/mixed; boundary="${boundary}"\nMIME-Version: 1.0\n`;
    for (const p of parts) {
      let content = p.config;
      // A part naming a software config is that config's text.
      if (/^[0-9a-f-]{36}$/.test(content)) {
        const got = await r.api<{ software_config: { config: string } }>(
          'orchestration',
          'GET',
          `/software_configs/${content}`,
          undefined,
          [200, 404],
        );
        if (got?.software_config) content = got.software_config.config;
      }
      out += `\n--${boundary}\nContent-Type: text/${p.subtype ?? (content.startsWith('#cloud-config') ? 'cloud-config' : 'x-shellscript')}; charset="us-ascii"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\n`;
      if (p.filename) out += `Content-Disposition: attachment; filename="${p.filename}"\n`;
      out += `\n${content}\n`;
    }
    out += `\n--${boundary}--\n`;
    return out;
  },
});

// ---- wait conditions ------------------------------------------------------------------------

/**
 * OS::Heat::WaitConditionHandle, as Heat makes it: a user of the stack domain (a password, the
 * role heat_stack_user on the stack's project there) whose token signals the handle through
 * the native API. TOKEN_SIGNAL (the default): `token` is that user's token, `endpoint` the
 * resource's signal URL under the stack domain project, `curl_cli` the command prefix;
 * HEAT_SIGNAL: `signal` carries the user's credentials and the native signal URL; NO_SIGNAL: none.
 */
export const WaitConditionHandle: ResourcePlugin = {
  type: 'OS::Heat::WaitConditionHandle',
  description: 'Resource for managing signals sent to an OS::Heat::WaitCondition.',
  supportStatus: { status: 'SUPPORTED', version: '2014.2', message: null },
  properties: {
    signal_transport: {
      type: 'string',
      description:
        'How the client will signal the wait condition. HEAT_SIGNAL will allow calls to the Heat API resource-signal using the provided keystone credentials. TOKEN_SIGNAL will allow and HTTP POST to a Heat API endpoint with the provided keystone token. NO_SIGNAL will result in the resource going to a signalled state without waiting for any signal.',
      default: 'TOKEN_SIGNAL',
      constraints: [{ allowed_values: ['TOKEN_SIGNAL', 'HEAT_SIGNAL', 'NO_SIGNAL', 'TEMP_URL_SIGNAL'] }],
    },
  },
  attributes: {
    token: {
      description:
        'Token for stack-user which can be used for signalling handle when signal_transport is set to TOKEN_SIGNAL. None for all other signal transports.',
      type: 'string',
    },
    endpoint: {
      description:
        'Endpoint/url which can be used for signalling handle when signal_transport is set to TOKEN_SIGNAL. None for all other signal transports.',
      type: 'string',
    },
    curl_cli: {
      description:
        'Convenience attribute, provides curl CLI command prefix, which can be used for signalling handle completion or failure when signal_transport is set to TOKEN_SIGNAL.',
      type: 'string',
    },
    signal: {
      description:
        'JSON serialized map that includes the endpoint, token and/or other attributes the client must use for signalling this handle.',
      type: 'string',
    },
  },
  async create(r) {
    r.data.signals = {};
    r.physicalId = randomUUID();
    const transport = String(r.properties.signal_transport ?? 'TOKEN_SIGNAL');
    if (transport === 'NO_SIGNAL') return;
    if (transport === 'TEMP_URL_SIGNAL') {
      // A PUT temp URL of an object in the stack's container; the wait condition polls it.
      await swiftSignalUrl(r);
      return;
    }
    const user = await r.stackUser.create();
    // The resource's URL under the stack domain project (Heat's _get_resource_endpoint).
    const base = (await r.heatUrl()).replace(/\/[^/]+$/, `/${user.project_id}`);
    const url = `${base}/stacks/${encodeURIComponent(r.stack.name)}/${r.stack.id}/resources/${encodeURIComponent(r.name)}/signal`;
    if (transport === 'TOKEN_SIGNAL') {
      r.data.user_token = await r.stackUser.token();
      r.data.endpoint = url;
    } else {
      r.data.heat_signal = {
        alarm_url: `${await r.heatUrl()}/stacks/${encodeURIComponent(r.stack.name)}/${r.stack.id}/resources/${encodeURIComponent(r.name)}/signal`,
        auth_url: await r.stackUser.authUrl(),
        user_id: user.user_id,
        password: user.password,
        project_id: user.project_id,
        domain_id: user.domain_id,
      };
    }
  },
  async delete(r) {
    await deleteSwiftSignal(r);
  },
  async resolveAttributes(r) {
    const endpoint = (r.data.endpoint as string | undefined) ?? null;
    const token = (r.data.user_token as string | undefined) ?? null;
    const swift = r.data.swift_signal as SwiftSignalData | undefined;
    const signal = swift
      ? { alarm_url: swift.url }
      : (r.data.heat_signal ?? (endpoint ? { url: endpoint, token } : {}));
    return {
      token,
      endpoint,
      curl_cli:
        endpoint && token
          ? `curl -i -X POST -H 'X-Auth-Token: ${token}' -H 'Content-Type: application/json' -H 'Accept: application/json' ${endpoint}`
          : null,
      signal: JSON.stringify(signal),
    };
  },
  async signal(r, details) {
    const signals = (r.data.signals ?? {}) as Record<string, unknown>;
    const d = (details && typeof details === 'object' ? details : {}) as Record<string, unknown>;
    const id = d.id !== undefined ? String(d.id) : String(Object.keys(signals).length + 1);
    const status = String(d.status ?? 'SUCCESS');
    if (!['SUCCESS', 'FAILURE'].includes(status))
      throw new HeatError(
        'ValidationError',
        `Metadata format invalid: status must be SUCCESS or FAILURE, not ${status}`,
      );
    const reason = d.reason ?? `Signal ${Object.keys(signals).length + 1} received`;
    signals[id] = { status, reason, data: d.data ?? null };
    r.data.signals = signals;
    // Heat's BaseWaitConditionHandle.handle_signal result: the SIGNAL event's reason.
    return `status:${status} reason:${pyText(reason)}`;
  },
};

export const WaitCondition: ResourcePlugin = {
  type: 'OS::Heat::WaitCondition',
  description: 'Resource for handling signals received by WaitConditionHandle.',
  supportStatus: { status: 'SUPPORTED', version: '2014.2', message: null },
  properties: {
    handle: {
      type: 'string',
      description: 'A reference to the wait condition handle used to signal this wait condition.',
      required: true,
    },
    timeout: {
      type: 'number',
      description: 'The number of seconds to wait for the correct number of signals to arrive.',
      required: true,
      constraints: [{ range: { min: 1, max: 43200 } }],
    },
    count: {
      type: 'integer',
      description: 'The number of success signals that must be received before the stack creation process continues.',
      default: 1,
      update_allowed: true,
      constraints: [{ range: { min: 1 } }],
    },
  },
  attributes: {
    data: {
      description: 'JSON string containing data associated with wait condition signals sent to the handle.',
      type: 'string',
    },
  },
  async create(r) {
    const deadline = Date.now() + num(r.properties.timeout, 60) * 1000;
    for (;;) {
      const signals = await handleSignals(r);
      const failed = Object.values(signals).find((s) => s.status === 'FAILURE');
      if (failed) throw new Error(`WaitConditionFailure: ${r.name}: ${String(failed.reason)}`);
      if (Object.values(signals).filter((s) => s.status === 'SUCCESS').length >= num(r.properties.count, 1)) {
        r.data.data = Object.fromEntries(Object.entries(signals).map(([k, s]) => [k, s.data]));
        break;
      }
      if (Date.now() > deadline)
        throw new Error(`WaitConditionTimeout: ${r.name}: 0 of ${num(r.properties.count, 1)} received`);
      await r.sleep(500);
    }
    r.physicalId = randomUUID();
  },
  async update() {},
  async delete() {},
  async resolveAttributes(r) {
    return { data: JSON.stringify(r.data.data ?? {}) };
  },
};

/** The signals the handle named by the wait condition holds. */
async function handleSignals(
  r: ResourceContext,
): Promise<Record<string, { status: string; reason: unknown; data: unknown }>> {
  const handle = await r.sibling(String(r.properties.handle));
  if (!handle)
    throw new Error(`${r.name}: the wait condition handle ${String(r.properties.handle)} is not in the stack`);
  const own = (handle.data.signals ?? {}) as Record<string, { status: string; reason: unknown; data: unknown }>;
  // TEMP_URL_SIGNAL: the signals PUT to the handle's object, besides those sent to the API.
  const swift = handle.data.swift_signal as SwiftSignalData | undefined;
  return swift ? { ...own, ...(await swiftSignals(r, swift)) } : own;
}

/**
 * AWS::CloudFormation::WaitConditionHandle: its reference is the URL a guest signals with a PUT
 * of `{"Status", "Reason", "UniqueId", "Data"}`. As Heat's handle (a signal responder), it gets a
 * stack-domain user with an EC2 keypair, and the URL is heat-api-cfn's
 * `/waitcondition/{arn}` EC2-signed with that keypair (cfn/signer.ts); a cloud without
 * heat-api-cfn gets Stratus's pre-signed one (`/signals/{stack}/{handle}?token=...`).
 */
export const CfnWaitConditionHandle: ResourcePlugin = {
  type: 'AWS::CloudFormation::WaitConditionHandle',
  description: 'AWS::CloudFormation::WaitConditionHandle resource.',
  supportStatus: { status: 'SUPPORTED', version: '2014.1', message: null },
  properties: {},
  attributes: {},
  async create(r) {
    const user = await r.stackUser.create({ ec2: true });
    r.data.signals = {};
    const cfn = r.cfnUrl ? await r.cfnUrl() : null;
    if (cfn && user.access && user.secret) {
      // Heat's URL: heat-api-cfn's /waitcondition/{arn}, EC2-signed with the user's keypair (never expires).
      r.data.url = ec2SignedUrl({
        cfnUrl: cfn,
        kind: 'waitcondition',
        arn: resourceArn(r.stack.projectId, r.stack.name, r.stack.id, r.name),
        access: user.access,
        secret: user.secret,
      });
    } else {
      r.data.token = randomBytes(24).toString('hex');
      r.data.url = `${await r.heatUrl()}/signals/${r.stack.id}/${encodeURIComponent(r.name)}?token=${r.data.token}`;
    }
    // As Heat, the URL is the handle's physical id (when the column holds it).
    r.physicalId = (r.data.url as string).length <= 255 ? (r.data.url as string) : randomUUID();
  },
  async delete() {},
  refId: (r) => (r.data.url as string | undefined) ?? null,
  async signal(r, details) {
    const d = (details && typeof details === 'object' ? details : {}) as Record<string, unknown>;
    const missing = ['Data', 'Reason', 'Status', 'UniqueId'].filter((k) => !(k in d));
    const status = String(d.Status ?? '');
    if (missing.length || !['SUCCESS', 'FAILURE'].includes(status))
      throw new HeatError('ValidationError', 'Metadata format invalid');
    const signals = (r.data.signals ?? {}) as Record<string, unknown>;
    signals[String(d.UniqueId)] = { status, reason: d.Reason, data: d.Data };
    r.data.signals = signals;
    return `status:${status} reason:${pyText(d.Reason)}`;
  },
};

/** AWS::CloudFormation::WaitCondition: OS::Heat::WaitCondition with CFN's property names; `Data` its attribute. */
export const CfnWaitCondition: ResourcePlugin = {
  type: 'AWS::CloudFormation::WaitCondition',
  description: 'AWS::CloudFormation::WaitCondition resource.',
  supportStatus: { status: 'SUPPORTED', version: '2014.1', message: null },
  properties: {
    Handle: {
      type: 'string',
      description: 'A reference to the wait condition handle used to signal this wait condition.',
      required: true,
    },
    Timeout: {
      type: 'number',
      description: 'The number of seconds to wait for the correct number of signals to arrive.',
      required: true,
      constraints: [{ range: { min: 1, max: 43200 } }],
    },
    Count: {
      type: 'integer',
      description: 'The number of success signals that must be received before the stack creation process continues.',
      default: 1,
      update_allowed: true,
      constraints: [{ range: { min: 1 } }],
    },
  },
  attributes: {
    Data: {
      description: 'JSON string containing data associated with wait condition signals sent to the handle.',
      type: 'string',
    },
  },
  async create(r) {
    const p = r.properties;
    const inner = Object.create(r) as ResourceContext & { properties: Record<string, unknown> };
    Object.defineProperty(inner, 'properties', {
      value: { handle: p.Handle, timeout: p.Timeout, count: p.Count },
    });
    await WaitCondition.create(inner);
    r.data.data = inner.data.data;
    r.physicalId = inner.physicalId;
  },
  async update() {},
  async delete() {},
  async resolveAttributes(r) {
    return { Data: JSON.stringify(r.data.data ?? {}) };
  },
};

// ---- autoscaling ----------------------------------------------------------------------------

function groupSize(r: ResourceContext): number {
  const min = num(r.properties.min_size, 0);
  const max = num(r.properties.max_size, 0);
  const wanted = typeof r.data.capacity === 'number' ? r.data.capacity : num(r.properties.desired_capacity, min);
  return Math.min(max, Math.max(min, wanted));
}

function scalingTemplate(r: ResourceContext, size: number): object {
  const def = r.properties.resource as {
    type: string;
    properties?: Record<string, unknown>;
    metadata?: Record<string, unknown>;
  };
  const resources: Record<string, unknown> = {};
  for (let i = 0; i < size; i++)
    resources[String(i)] = {
      type: def.type,
      ...(def.properties ? { properties: def.properties } : {}),
      ...(def.metadata ? { metadata: def.metadata } : {}),
    };
  return { heat_template_version: '2015-04-30', resources };
}

async function applyGroup(r: ResourceContext) {
  const size = groupSize(r);
  r.data.capacity = size;
  r.physicalId = await r.nested.apply(scalingTemplate(r, size), {});
  r.data.members = await r.nested.resources();
}

/** OS::Heat::AutoScalingGroup: `resource` copies between min_size and max_size, resized by its scaling policies. */
export const AutoScalingGroup: ResourcePlugin = {
  type: 'OS::Heat::AutoScalingGroup',
  description: 'An autoscaling group that can scale arbitrary resources.',
  supportStatus: { status: 'SUPPORTED', version: '2014.1', message: null },
  properties: {
    resource: {
      type: 'map',
      description: 'Resource definition for the resources in the group, in HOT format.',
      required: true,
      update_allowed: true,
      schema: { type: { type: 'string', required: true }, properties: { type: 'map' }, metadata: { type: 'map' } },
    },
    max_size: {
      type: 'integer',
      description: 'Maximum number of resources in the group.',
      required: true,
      update_allowed: true,
      constraints: [{ range: { min: 0 } }],
    },
    min_size: {
      type: 'integer',
      description: 'Minimum number of resources in the group.',
      required: true,
      update_allowed: true,
      constraints: [{ range: { min: 0 } }],
    },
    desired_capacity: { type: 'integer', description: 'Desired initial number of resources.', update_allowed: true },
    cooldown: { type: 'integer', description: 'Cooldown period, in seconds.', update_allowed: true },
    rolling_updates: {
      type: 'map',
      description: 'Policy for rolling updates for this scaling group.',
      update_allowed: true,
    },
  },
  attributes: {
    outputs: {
      description: 'A map of resource names to the specified attribute of each individual resource.',
      type: 'map',
    },
    outputs_list: { description: 'A list of the specified attribute of each individual resource.', type: 'list' },
    current_size: { description: 'The current size of AutoscalingResourceGroup.', type: 'integer' },
    refs: { description: 'A list of resource IDs for the resources in the group.', type: 'list' },
    refs_map: { description: 'A map of resource names to IDs for the resources in the group.', type: 'map' },
  },
  async create(r) {
    if (num(r.properties.min_size) > num(r.properties.max_size))
      throw new HeatError('StackValidationFailed', 'min_size can not be greater than max_size');
    await applyGroup(r);
  },
  async update(r, changed) {
    if (changed.includes('desired_capacity')) delete r.data.capacity;
    await applyGroup(r);
  },
  async delete(r) {
    await r.nested.delete();
  },
  async signal(r, details) {
    const d = (details ?? {}) as Record<string, unknown>;
    const current = typeof r.data.capacity === 'number' ? r.data.capacity : groupSize(r);
    const adj = num(d.adjustment, 0);
    let next = current;
    if (d.adjustment_type === 'exact_capacity') next = adj;
    else if (d.adjustment_type === 'percent_change_in_capacity') {
      const delta = (current * adj) / 100;
      const step = Math.max(num(d.min_adjustment_step, 0), Math.abs(delta) < 1 ? 1 : 0);
      next = current + Math.sign(delta) * Math.max(Math.trunc(Math.abs(delta)), step);
    } else next = current + adj;
    next = Math.min(num(r.properties.max_size), Math.max(num(r.properties.min_size), next));
    // Heat's AutoScalingGroup.adjust: no change is NoActionRequired (no event); then the group's
    // own cooldown and scaling_in_progress guard (CooldownMixin, in the group's metadata), and
    // its cooldown runs from the end of a resize.
    if (next === current) throw new NoActionRequired(r.name, 'no change in capacity');
    const cooldown = Math.max(0, num(r.properties.cooldown, 0));
    await checkScalingAllowed(r, cooldown);
    let changed = false;
    try {
      r.data.capacity = next;
      await applyGroup(r);
      changed = true;
    } finally {
      await finishedScaling(r, cooldown, `${d.adjustment_type ?? 'change_in_capacity'} : ${adj}`, changed);
    }
  },
  async resolveAttributes(r) {
    const { members, names } = groupMembers(r.data);
    return {
      current_size: names.length,
      ...memberRefs(members, names),
    };
  },
  attribute(state: StoredResource, name: string) {
    const { members, names } = groupMembers(state.data);
    const m = /^outputs(_list)?$/.exec(name);
    if (m) return null;
    return names.map((n) => members[n]!.attributes[name]);
  },
  suspend: (r) => r.nested.action('SUSPEND'),
  resume: (r) => r.nested.action('RESUME'),
  check: (r) => r.nested.action('CHECK'),
};

/** Heat's utcnow().isoformat() (microseconds, no zone), what a cooldown_end is compared as. */
const isoNow = (plusMs = 0) => `${new Date(Date.now() + plusMs).toISOString().slice(0, -1)}000`;

/**
 * Heat's CooldownMixin._check_scaling_allowed, over the resource's metadata: a scaling already
 * running (`scaling_in_progress`) or a `cooldown_end` not reached is NoActionRequired (the signal
 * is accepted, no event); else `scaling_in_progress` is set and saved before the scaling starts,
 * so that a signal meanwhile is refused.
 */
async function checkScalingAllowed(r: ResourceContext, cooldown: number) {
  const m = { ...r.metadata };
  if (m.scaling_in_progress) throw new NoActionRequired(r.name, 'due to scaling activity');
  const end = m.cooldown_end && typeof m.cooldown_end === 'object' ? Object.keys(m.cooldown_end)[0] : undefined;
  if (end && isoNow() < end) throw new NoActionRequired(r.name, `due to cooldown, cooldown ${cooldown}`);
  m.scaling_in_progress = true;
  await r.metadataSet?.(m);
}

/** Heat's CooldownMixin._finished_scaling: the cooldown runs from now when the size changed; the scaling is over. */
async function finishedScaling(r: ResourceContext, cooldown: number, reason: string, sizeChanged: boolean) {
  const m = { ...r.metadata };
  if (sizeChanged) {
    let end = isoNow(cooldown * 1000);
    const prev = m.cooldown_end && typeof m.cooldown_end === 'object' ? Object.keys(m.cooldown_end)[0] : undefined;
    if (prev && prev > end) end = prev;
    m.cooldown_end = { [end]: reason };
  }
  m.scaling_in_progress = false;
  await r.metadataSet?.(m);
}

/** OS::Heat::ScalingPolicy: a signal (its native `signal_url`, its EC2-signed `alarm_url`) resizes its group. */
export const ScalingPolicy: ResourcePlugin = {
  type: 'OS::Heat::ScalingPolicy',
  description: 'A resource to manage scaling of OS::Heat::AutoScalingGroup.',
  supportStatus: { status: 'SUPPORTED', version: '2014.1', message: null },
  properties: {
    auto_scaling_group_id: { type: 'string', description: 'AutoScaling group ID to apply policy to.', required: true },
    adjustment_type: {
      type: 'string',
      description: 'Type of adjustment (absolute or percentage).',
      required: true,
      update_allowed: true,
      constraints: [{ allowed_values: ['change_in_capacity', 'exact_capacity', 'percent_change_in_capacity'] }],
    },
    scaling_adjustment: { type: 'number', description: 'Size of adjustment.', required: true, update_allowed: true },
    cooldown: { type: 'number', description: 'Cooldown period, in seconds.', update_allowed: true },
    min_adjustment_step: {
      type: 'integer',
      description:
        'Minimum number of resources that are added or removed when the AutoScaling group scales up or down.',
      update_allowed: true,
      constraints: [{ range: { min: 0 } }],
    },
  },
  attributes: {
    alarm_url: { description: 'A signed url to handle the alarm.', type: 'string' },
    signal_url: { description: 'A url to handle the alarm using native API.', type: 'string' },
  },
  async create(r) {
    r.data.token = randomBytes(24).toString('hex');
    r.data.url = `${await r.heatUrl()}/signals/${r.stack.id}/${encodeURIComponent(r.name)}?token=${r.data.token}`;
    // signal_url: Heat's _get_heat_signal_url, the native signal URL of the resource (a Keystone
    // token is needed to POST it), kept in the resource's data as `heat_signal_url`.
    r.data.heat_signal_url = `${await r.heatUrl()}/stacks/${encodeURIComponent(r.stack.name)}/${r.stack.id}/resources/${encodeURIComponent(r.name)}/signal`;
    // As Heat's signal responder: a stack-domain user with an EC2 keypair, whose signature makes
    // alarm_url heat-api-cfn's POST /signal/{arn} (never expires). Without heat-api-cfn, alarm_url
    // is Stratus's token-presigned URL.
    const cfn = r.cfnUrl ? await r.cfnUrl() : null;
    if (cfn) {
      const user = await r.stackUser.create({ ec2: true });
      if (user.access && user.secret)
        r.data.alarm_url = ec2SignedUrl({
          cfnUrl: cfn,
          kind: 'signal',
          arn: resourceArn(r.stack.projectId, r.stack.name, r.stack.id, r.name),
          access: user.access,
          secret: user.secret,
        });
    }
    r.physicalId = randomUUID();
  },
  async update() {},
  async delete() {},
  async signal(r, details) {
    // Zed's handle_signal: whatever the alarm's state (`current`, else `state`; the template puts
    // the policy in the actions it wants), the group is adjusted; the group answers
    // NoActionRequired (no event) when in cooldown or when its size would not change.
    // The policy's own cooldown and scaling_in_progress guard (Heat's CooldownMixin on the policy).
    const cooldown = Math.max(0, num(r.properties.cooldown, 0));
    await checkScalingAllowed(r, cooldown);
    let changed = false;
    try {
      await r.signalSibling(String(r.properties.auto_scaling_group_id), {
        adjustment: r.properties.scaling_adjustment,
        adjustment_type: r.properties.adjustment_type,
        min_adjustment_step: r.properties.min_adjustment_step,
      });
      changed = true;
    } finally {
      await finishedScaling(
        r,
        cooldown,
        `${r.properties.adjustment_type} : ${r.properties.scaling_adjustment}`,
        changed,
      );
    }
  },
  async resolveAttributes(r) {
    const native =
      (r.data.heat_signal_url as string | undefined) ??
      `${await r.heatUrl()}/stacks/${encodeURIComponent(r.stack.name)}/${r.stack.id}/resources/${encodeURIComponent(r.name)}/signal`;
    return { alarm_url: r.data.alarm_url ?? r.data.url, signal_url: native };
  },
};

/** OS::Heat::SwiftSignalHandle: its reference and `endpoint` are a PUT temp URL; each PUT is a signal. */
export const SwiftSignalHandle: ResourcePlugin = {
  type: 'OS::Heat::SwiftSignalHandle',
  description: 'Resource for managing signals from Swift resources.',
  supportStatus: { status: 'SUPPORTED', version: '2014.2', message: null },
  properties: {},
  attributes: {
    token: {
      description:
        'Tokens are not needed for Swift TempURLs. This attribute is being kept for compatibility with the OS::Heat::WaitConditionHandle resource.',
      type: 'string',
    },
    endpoint: { description: 'Endpoint/url which can be used for signalling handle.', type: 'string' },
    curl_cli: {
      description:
        'Convenience attribute, provides curl CLI command prefix, which can be used for signalling handle completion or failure. You can signal success by adding --data-binary \'{"status": "SUCCESS"}\' , or signal failure by adding --data-binary \'{"status": "FAILURE"}\'.',
      type: 'string',
    },
  },
  async create(r) {
    const d = await swiftSignalUrl(r);
    r.physicalId = d.object;
  },
  async delete(r) {
    await deleteSwiftSignal(r);
  },
  refId: (r) => (r.data.swift_signal as SwiftSignalData | undefined)?.url ?? null,
  async resolveAttributes(r) {
    const url = (r.data.swift_signal as SwiftSignalData | undefined)?.url ?? null;
    return { token: '', endpoint: url, curl_cli: url ? `curl -i -X PUT '${url}'` : null };
  },
};

/** OS::Heat::SwiftSignal: waits for `count` SUCCESS signals PUT to its handle's temp URL. */
export const SwiftSignal: ResourcePlugin = {
  type: 'OS::Heat::SwiftSignal',
  description: 'Resource for handling signals received by SwiftSignalHandle.',
  supportStatus: { status: 'SUPPORTED', version: '2014.2', message: null },
  properties: {
    handle: {
      type: 'string',
      description: 'URL of TempURL where resource will signal completion and optionally upload data.',
      required: true,
    },
    timeout: {
      type: 'number',
      description:
        'The maximum number of seconds to wait for the resource to signal completion. Once the timeout is reached, creation of the signal resource will fail.',
      required: true,
      constraints: [{ range: { min: 1, max: 43200 } }],
    },
    count: {
      type: 'integer',
      description: 'The number of success signals that must be received before the stack creation process continues.',
      default: 1,
      constraints: [{ range: { min: 1, max: 1000 } }],
    },
  },
  attributes: {
    data: { description: 'JSON data that was uploaded via the SwiftSignalHandle.', type: 'string' },
  },
  async create(r) {
    const count = num(r.properties.count, 1);
    const deadline = Date.now() + num(r.properties.timeout, 60) * 1000;
    for (;;) {
      const signals = await handleSignals(r);
      const failed = Object.values(signals).find((s) => s.status === 'FAILURE');
      if (failed) throw new Error(`SwiftSignalFailure: ${r.name}: ${String(failed.reason)}`);
      const ok = Object.values(signals).filter((s) => s.status === 'SUCCESS').length;
      if (ok >= count) {
        r.data.data = Object.fromEntries(Object.entries(signals).map(([k, s]) => [k, s.data]));
        break;
      }
      if (Date.now() > deadline) throw new Error(`SwiftSignalTimeout: ${r.name}: ${ok} of ${count} received`);
      await r.sleep(500);
    }
    r.physicalId = randomUUID();
  },
  async delete() {},
  async resolveAttributes(r) {
    return { data: JSON.stringify(r.data.data ?? {}) };
  },
};

export const HEAT_RESOURCES: ResourcePlugin[] = [
  AutoScalingGroup,
  ScalingPolicy,
  TestResource,
  RandomString,
  Value,
  NoneResource,
  StackResource,
  ResourceGroup,
  SoftwareConfig,
  StructuredConfig,
  CloudConfig,
  MultipartMime,
  WaitConditionHandle,
  CfnWaitConditionHandle,
  CfnWaitCondition,
  WaitCondition,
  SwiftSignalHandle,
  SwiftSignal,
];

/** Python's str() of a JSON value (what Heat's '%s' shows). */
function pyText(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

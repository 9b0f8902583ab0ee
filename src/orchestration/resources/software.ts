// OS::Heat::SoftwareDeployment and OS::Heat::SoftwareDeployments: a config deployed to a server
// through the software deployments API. As Heat does, each deployment gets a derived config (the
// config's inputs plus the deploy_* inputs the in-guest agent needs), a deployment row the
// server's metadata lists (`deployments`, what os-collect-config polls), and waits IN_PROGRESS for
// the agent's signal: CFN_SIGNAL (a pre-signed URL, `deploy_signal_id`), HEAT_SIGNAL (POST
// .../resources/{name}/signal with a Keystone token) or NO_SIGNAL (complete at once).
import { randomBytes, randomUUID } from 'node:crypto';
import type { PropertySchema, ResourceContext, ResourcePlugin } from './plugin.ts';
import { type SwiftSignalData, deleteSwiftSignal, makeSwiftSignal, swiftSignalBody } from './swiftsignal.ts';

type Json = Record<string, unknown>;

const TRANSPORTS = ['CFN_SIGNAL', 'TEMP_URL_SIGNAL', 'HEAT_SIGNAL', 'NO_SIGNAL', 'ZAQAR_SIGNAL'];
const SUPPORTED_TRANSPORTS = ['CFN_SIGNAL', 'TEMP_URL_SIGNAL', 'HEAT_SIGNAL', 'NO_SIGNAL'];

const COMMON_PROPS: Record<string, PropertySchema> = {
  config: {
    type: 'string',
    description: 'ID of software configuration resource to execute when applying to the server.',
    update_allowed: true,
  },
  input_values: {
    type: 'map',
    description: 'Input values to apply to the software configuration on this server.',
    default: {},
    update_allowed: true,
  },
  actions: {
    type: 'list',
    description: 'Which lifecycle actions of the deployment resource will result in this deployment being triggered.',
    default: ['CREATE', 'UPDATE'],
    update_allowed: true,
  },
  signal_transport: {
    type: 'string',
    description: 'How the server should signal to heat with the deployment output values.',
    default: 'CFN_SIGNAL',
    constraints: [{ allowed_values: TRANSPORTS }],
  },
  name: {
    type: 'string',
    description: 'Name of the derived config associated with this deployment.',
  },
};

const OUTPUT_ATTRS = {
  deploy_stdout: { description: 'Captured stdout from the configuration execution.', type: 'string' as const },
  deploy_stderr: { description: 'Captured stderr from the configuration execution.', type: 'string' as const },
  deploy_status_code: {
    description: 'Returned status code from the configuration execution.',
    type: 'string' as const,
  },
};

interface Made {
  deployment_id: string;
  config_id: string;
  /** TEMP_URL_SIGNAL: the object the agent PUTs its outputs to. */
  swift?: SwiftSignalData;
}

const STRUCTURED_PROPS: Record<string, PropertySchema> = {
  input_key: {
    type: 'string',
    description: 'Name of key to use for substituting inputs during deployment.',
    default: 'get_input',
  },
  input_values_validate: {
    type: 'string',
    description:
      'Perform a check on the input values passed to verify that each required input has a corresponding value. When the property is set to STRICT and no value is passed, an exception is raised.',
    default: 'LAX',
    constraints: [{ allowed_values: ['LAX', 'STRICT'] }],
  },
};

/**
 * The structured deployments' input substitution (Heat's StructuredDeployment.parse): in the
 * config's data structure, every map that is exactly `{<input_key>: <name>}` becomes the value
 * of that input (the deployment's input_values, the config's input defaults, the deploy_*
 * inputs); an input without a value is null, or with STRICT a UserParameterMissing.
 */
export function substituteInputs(
  snippet: unknown,
  inputs: Record<string, unknown>,
  inputKey = 'get_input',
  check: 'LAX' | 'STRICT' = 'LAX',
): unknown {
  if (Array.isArray(snippet)) return snippet.map((v) => substituteInputs(v, inputs, inputKey, check));
  if (snippet && typeof snippet === 'object') {
    const entries = Object.entries(snippet as Json);
    if (entries.length === 1 && entries[0]![0] === inputKey && typeof entries[0]![1] === 'string') {
      const name = entries[0]![1];
      if (check === 'STRICT' && !(name in inputs))
        throw new Error(`UserParameterMissing: The Parameter (${name}) was not provided.`);
      return inputs[name] ?? null;
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, substituteInputs(v, inputs, inputKey, check)]));
  }
  return snippet;
}

/** Makes the derived config and the deployment of `config` on `server`; answers their ids. */
async function deploy(
  r: ResourceContext,
  key: string,
  server: string,
  action: string,
  structured = false,
): Promise<Made> {
  const p = r.properties;
  const transport = String(p.signal_transport ?? 'CFN_SIGNAL');
  if (!SUPPORTED_TRANSPORTS.includes(transport))
    throw new Error(
      `NotSupported: signal_transport ${transport} is not supported (CFN_SIGNAL, TEMP_URL_SIGNAL, HEAT_SIGNAL, NO_SIGNAL)`,
    );
  let source: Json = { group: 'Heat::Ungrouped', config: '', inputs: [], outputs: [], options: {} };
  if (p.config) {
    const got = await r.api<Json>('orchestration', 'GET', `/software_configs/${p.config}`);
    source = got.software_config as Json;
  }
  const deploymentId = randomUUID();
  const token = randomBytes(24).toString('hex');
  const values: Json = { ...((p.input_values ?? {}) as Json) };
  const derived: Array<Json> = [
    { name: 'deploy_server_id', description: 'ID of the server being deployed to', value: server },
    { name: 'deploy_action', description: 'Name of the current action being deployed', value: action },
    { name: 'deploy_stack_id', description: 'ID of the stack this deployment belongs to', value: r.stack.id },
    {
      name: 'deploy_resource_name',
      description: 'Name of this deployment resource in the stack',
      value: key ? `${r.name}-${key}` : r.name,
    },
    {
      name: 'deploy_signal_transport',
      description: 'How the server should signal to heat with the deployment output values.',
      value: transport,
    },
  ];
  if (transport === 'HEAT_SIGNAL') {
    // The agent signals through the native API as the resource's stack-domain user (Heat's
    // deploy_auth_url, deploy_user_id, deploy_password, deploy_project_id).
    const user = await r.stackUser.create();
    derived.push(
      { name: 'deploy_auth_url', description: 'URL for API authentication', value: await r.stackUser.authUrl() },
      { name: 'deploy_username', description: 'Username for API authentication', value: user.username },
      { name: 'deploy_user_id', description: 'User ID for API authentication', value: user.user_id },
      { name: 'deploy_password', description: 'Password for API authentication', value: user.password },
      { name: 'deploy_project_id', description: 'ID of project for API authentication', value: user.project_id },
      { name: 'deploy_region_name', description: 'Region name for API authentication', value: r.stack.region },
    );
  }
  if (transport === 'CFN_SIGNAL') {
    derived.push(
      {
        name: 'deploy_signal_id',
        description: 'ID of signal to use for signaling output values',
        value: `${await r.heatUrl()}/software_deployments/${deploymentId}/signal?token=${token}`,
      },
      {
        name: 'deploy_signal_verb',
        description: 'HTTP verb to use for signaling outputvalues',
        value: 'POST',
      },
    );
  }
  let swift: SwiftSignalData | undefined;
  if (transport === 'TEMP_URL_SIGNAL') {
    // The agent PUTs its outputs to a temp URL of an object; the engine polls it.
    swift = await makeSwiftSignal(r, `${r.stack.name}-${r.name}${key ? `-${key}` : ''}-${deploymentId.slice(0, 8)}`);
    derived.push(
      { name: 'deploy_signal_id', description: 'ID of signal to use for signaling output values', value: swift.url },
      { name: 'deploy_signal_verb', description: 'HTTP verb to use for signaling outputvalues', value: 'PUT' },
    );
  }
  for (const d of derived) values[String(d.name)] = d.value;
  let config: unknown = source.config ?? '';
  if (structured) {
    // The config's own input defaults count as values (Heat's derived inputs carry them).
    const all: Json = {};
    for (const i of (source.inputs ?? []) as Json[])
      if (i.default !== undefined && i.default !== null) all[String(i.name)] = i.default;
    Object.assign(all, values);
    let data: unknown = config;
    if (typeof config === 'string' && /^\s*[[{]/.test(config)) {
      try {
        data = JSON.parse(config);
      } catch {
        data = config;
      }
    }
    const out = substituteInputs(
      data,
      all,
      String(p.input_key ?? 'get_input'),
      p.input_values_validate === 'STRICT' ? 'STRICT' : 'LAX',
    );
    config = typeof out === 'string' ? out : JSON.stringify(out);
  }
  const inputs = [
    ...((source.inputs ?? []) as Json[]),
    ...derived.map((d) => ({ name: d.name, description: d.description, type: 'String', default: null })),
  ];
  const outputs = [
    ...((source.outputs ?? []) as Json[]),
    ...Object.entries(OUTPUT_ATTRS).map(([name, a]) => ({ name, description: a.description, type: 'String' })),
  ];
  const cfg = await r.api<{ software_config: { id: string } }>('orchestration', 'POST', '/software_configs', {
    name: String(p.name ?? `${r.stack.name}-${r.name}${key ? `-${key}` : ''}-${randomBytes(4).toString('hex')}`),
    group: source.group ?? 'Heat::Ungrouped',
    config,
    inputs,
    outputs,
    options: source.options ?? {},
  });
  const noSignal = transport === 'NO_SIGNAL' || source.group === 'component';
  await r.api('orchestration', 'POST', '/software_deployments', {
    id: deploymentId,
    server_id: server,
    config_id: cfg.software_config.id,
    input_values: values,
    action,
    status: noSignal ? 'COMPLETE' : 'IN_PROGRESS',
    status_reason: noSignal ? 'Not waiting for outputs signal' : 'Deploy data available',
  });
  return { deployment_id: deploymentId, config_id: cfg.software_config.id, ...(swift ? { swift } : {}) };
}

/** Waits for each deployment to leave IN_PROGRESS; a cancelled wait (a timeout) marks them FAILED. */
async function waitAll(r: ResourceContext, made: Made[]): Promise<Record<string, Json>> {
  const outputs: Record<string, Json> = {};
  const pending = new Set(made.map((m) => m.deployment_id));
  for (;;) {
    for (const id of [...pending]) {
      const swift = made.find((m) => m.deployment_id === id)?.swift;
      if (swift) {
        // TEMP_URL_SIGNAL: the object's body, once PUT, is the signal (its outputs).
        const body = await swiftSignalBody(r, swift);
        if (body.trim()) {
          let details: unknown;
          try {
            details = JSON.parse(body);
          } catch {
            throw new Error(`Error: resources.${r.name}: Failed to parse JSON data: ${body}`);
          }
          await completeDeployment(r, id, details);
        }
      }
      const d = (await r.api<Json>('orchestration', 'GET', `/software_deployments/${id}`)).software_deployment as Json;
      if (d.status === 'IN_PROGRESS') continue;
      pending.delete(id);
      outputs[id] = (d.output_values ?? {}) as Json;
      if (d.status === 'FAILED')
        throw new Error(`Error: resources.${r.name}: Deployment to server failed: ${String(d.status_reason)}`);
    }
    if (!pending.size) return outputs;
    try {
      await r.sleep(500);
    } catch (e) {
      // Cancelled (a timeout, a cancel, a delete): the deployments still waiting fail.
      for (const id of pending)
        await r
          .api('orchestration', 'PUT', `/software_deployments/${id}`, {
            status: 'FAILED',
            status_reason: 'Deployment cancelled.',
          })
          .catch(() => undefined);
      throw e;
    }
  }
}

async function undeploy(r: ResourceContext, made: Made[]) {
  for (const m of made) {
    if (m.swift) await deleteSwiftSignal(r, m.swift).catch(() => undefined);
    await r.api('orchestration', 'DELETE', `/software_deployments/${m.deployment_id}`, undefined, [204, 404]);
    await r.api('orchestration', 'DELETE', `/software_configs/${m.config_id}`, undefined, [204, 404]);
  }
}

/** HEAT_SIGNAL: the signal's body completes (or fails) the resource's deployments still in progress. */
async function signalDeployments(r: ResourceContext, details: unknown) {
  // The resource's data is saved when its create ends: its deployments are found by their inputs.
  const all = ((await r.api<Json>('orchestration', 'GET', '/software_deployments')).software_deployments ??
    []) as Json[];
  const mine = all.filter((d) => {
    const v = (d.input_values ?? {}) as Json;
    const name = String(v.deploy_resource_name ?? '');
    return (
      v.deploy_stack_id === r.stack.id &&
      (name === r.name || name.startsWith(`${r.name}-`)) &&
      d.status === 'IN_PROGRESS'
    );
  });
  // Heat's signal_software_deployment result (the SIGNAL event's reason): the deployment's outcome.
  let reason: string | undefined;
  for (const m of mine) reason = await completeDeployment(r, String(m.id), details);
  return reason;
}

/** A deployment's outputs received: COMPLETE, or FAILED with a non-zero deploy_status_code. */
async function completeDeployment(r: ResourceContext, id: string, details: unknown): Promise<string> {
  const out = (details && typeof details === 'object' && !Array.isArray(details) ? details : {}) as Json;
  const code = out.deploy_status_code;
  const failed = Boolean(code) && String(code) !== '0';
  await r.api('orchestration', 'PUT', `/software_deployments/${id}`, {
    output_values: out,
    status: failed ? 'FAILED' : 'COMPLETE',
    status_reason: failed
      ? `deploy_status_code : Deployment exited with non-zero status code: ${String(code)}`
      : 'Outputs received',
  });
  return failed ? `deployment ${id} failed (${String(code)})` : `deployment ${id} succeeded`;
}

function outputsOf(o: Json | undefined) {
  return {
    deploy_stdout: o?.deploy_stdout ?? null,
    deploy_stderr: o?.deploy_stderr ?? null,
    deploy_status_code: o?.deploy_status_code ?? null,
    ...(o ?? {}),
  };
}

async function createAll(r: ResourceContext, servers: Record<string, string>, structured = false) {
  const made: Record<string, Made> = {};
  const actions = (r.properties.actions ?? ['CREATE', 'UPDATE']) as string[];
  r.physicalId = randomUUID();
  if (!actions.includes('CREATE')) return;
  for (const [key, server] of Object.entries(servers)) made[key] = await deploy(r, key, server, 'CREATE', structured);
  r.data.deployments = made;
  const outputs = await waitAll(r, Object.values(made));
  r.data.outputs = Object.fromEntries(Object.entries(made).map(([k, m]) => [k, outputs[m.deployment_id] ?? {}]));
}

export const SoftwareDeployment: ResourcePlugin = {
  type: 'OS::Heat::SoftwareDeployment',
  description: 'This resource associates a group of servers with some configuration.',
  supportStatus: { status: 'SUPPORTED', version: '2014.1', message: null },
  properties: {
    ...COMMON_PROPS,
    server: { type: 'string', description: 'ID of resource to apply configuration to.', required: true },
  },
  attributes: OUTPUT_ATTRS,
  async create(r) {
    await createAll(r, { '': String(r.properties.server) });
    if (r.data.deployments) r.physicalId = ((r.data.deployments as Record<string, Made>)[''] as Made).deployment_id;
  },
  async delete(r) {
    await undeploy(r, Object.values((r.data.deployments ?? {}) as Record<string, Made>));
  },
  signal: signalDeployments,
  async resolveAttributes(r) {
    return outputsOf(((r.data.outputs ?? {}) as Record<string, Json>)['']);
  },
};

export const SoftwareDeployments: ResourcePlugin = {
  type: 'OS::Heat::SoftwareDeployments',
  description: 'This resource associates a group of servers with some configuration.',
  supportStatus: { status: 'SUPPORTED', version: '2014.2', message: null },
  properties: {
    ...COMMON_PROPS,
    servers: {
      type: 'map',
      description: 'A map of names and server IDs to apply configuration to.',
      update_allowed: false,
    },
  },
  attributes: {
    deploy_stdouts: { description: 'A map of Nova names and captured stdouts.', type: 'map' },
    deploy_stderrs: { description: 'A map of Nova names and captured stderrs.', type: 'map' },
    deploy_status_codes: { description: 'A map of Nova names and returned status code.', type: 'map' },
  },
  async create(r) {
    await createAll(
      r,
      Object.fromEntries(Object.entries((r.properties.servers ?? {}) as Json).map(([k, v]) => [k, String(v)])),
    );
  },
  async delete(r) {
    await undeploy(r, Object.values((r.data.deployments ?? {}) as Record<string, Made>));
  },
  signal: signalDeployments,
  async resolveAttributes(r) {
    const outs = (r.data.outputs ?? {}) as Record<string, Json>;
    const pick = (k: string) => Object.fromEntries(Object.entries(outs).map(([name, o]) => [name, o[k] ?? null]));
    return {
      deploy_stdouts: pick('deploy_stdout'),
      deploy_stderrs: pick('deploy_stderr'),
      deploy_status_codes: pick('deploy_status_code'),
    };
  },
};

/** OS::Heat::SoftwareDeploymentGroup: SoftwareDeployments under its newer name. */
export const SoftwareDeploymentGroup: ResourcePlugin = {
  ...SoftwareDeployments,
  type: 'OS::Heat::SoftwareDeploymentGroup',
  supportStatus: { status: 'SUPPORTED', version: '5.0.0', message: null },
};

/** OS::Heat::StructuredDeployment: a SoftwareDeployment whose structured config gets its inputs substituted. */
export const StructuredDeployment: ResourcePlugin = {
  ...SoftwareDeployment,
  type: 'OS::Heat::StructuredDeployment',
  description:
    'A resource which has same logic with OS::Heat::SoftwareDeployment, with the inputs substituted into a structured config.',
  supportStatus: { status: 'SUPPORTED', version: '2014.1', message: null },
  properties: { ...SoftwareDeployment.properties, ...STRUCTURED_PROPS },
  async create(r) {
    await createAll(r, { '': String(r.properties.server) }, true);
    if (r.data.deployments) r.physicalId = ((r.data.deployments as Record<string, Made>)[''] as Made).deployment_id;
  },
};

const structuredGroup = (type: string, version: string): ResourcePlugin => ({
  ...SoftwareDeployments,
  type,
  description: 'This resource associates a group of servers with some configuration, its inputs substituted.',
  supportStatus: { status: 'SUPPORTED', version, message: null },
  properties: { ...SoftwareDeployments.properties, ...STRUCTURED_PROPS },
  async create(r) {
    await createAll(
      r,
      Object.fromEntries(Object.entries((r.properties.servers ?? {}) as Json).map(([k, v]) => [k, String(v)])),
      true,
    );
  },
});

export const StructuredDeployments = structuredGroup('OS::Heat::StructuredDeployments', '2014.2');
export const StructuredDeploymentGroup = structuredGroup('OS::Heat::StructuredDeploymentGroup', '5.0.0');

export const SOFTWARE_RESOURCES: ResourcePlugin[] = [
  SoftwareDeployment,
  SoftwareDeployments,
  SoftwareDeploymentGroup,
  StructuredDeployment,
  StructuredDeployments,
  StructuredDeploymentGroup,
];

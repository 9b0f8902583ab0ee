// An orchestration resource plugin (see src/orchestration/README.md, "Resource plugins"): the
// book's example, a host in a Zabbix monitoring server, created and removed through Zabbix's
// JSON-RPC API as part of a stack. Put this file in a directory named by
// `orchestration.pluginDirs` in stratus.yaml; the type `Zabbix::Host` is then usable in
// templates and listed by `openstack orchestration resource type list`.
//
// A plugin module exports `resources`: a list of objects with the resource type, its property
// and attribute schemas, and its handlers (create, delete, optionally update, resolveAttributes,
// check, suspend, resume, signal). Handlers receive the resource context: its validated
// properties, `physicalId` and `data` to keep what the plugin needs, `api()` to call the cloud's
// services with the stack owner's token, and `sleep()`.

/** One JSON-RPC call to Zabbix; a Zabbix error is thrown (the resource goes to FAILED with it). */
async function zabbix(url, auth, method, params) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json-rpc' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1, ...(auth ? { auth } : {}) }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`Zabbix ${method}: ${body.error.data ?? body.error.message}`);
  return body.result;
}

/** @type {import('../../src/orchestration/resources/plugin.ts').ResourcePlugin} */
const ZabbixHost = {
  type: 'Zabbix::Host',
  description: 'A host monitored by a Zabbix server (an example of a resource plugin).',
  supportStatus: { status: 'SUPPORTED', version: null, message: null },
  properties: {
    url: { type: 'string', description: "The Zabbix API's URL (…/api_jsonrpc.php).", required: true },
    auth: { type: 'string', description: 'A Zabbix API token.', default: '' },
    host: { type: 'string', description: 'The technical name of the host.', required: true },
    ip: { type: 'string', description: "The IP address of the host's agent interface.", required: true },
    port: { type: 'string', description: "The agent's port.", default: '10050' },
    group_ids: { type: 'list', description: 'The host groups the host belongs to.', default: ['2'] },
    template_ids: { type: 'list', description: 'The templates linked to the host.', default: [] },
  },
  attributes: {
    hostid: { description: "The host's id in Zabbix.", type: 'string' },
  },
  async create(r) {
    const p = r.properties;
    const result = await zabbix(p.url, p.auth, 'host.create', {
      host: p.host,
      interfaces: [{ type: 1, main: 1, useip: 1, ip: p.ip, dns: '', port: p.port }],
      groups: p.group_ids.map((groupid) => ({ groupid })),
      templates: p.template_ids.map((templateid) => ({ templateid })),
    });
    r.physicalId = String(result.hostids[0]);
  },
  async delete(r) {
    if (r.physicalId) await zabbix(r.properties.url, r.properties.auth, 'host.delete', [r.physicalId]);
  },
  async resolveAttributes(r) {
    return { hostid: r.physicalId };
  },
};

export const resources = [ZabbixHost];

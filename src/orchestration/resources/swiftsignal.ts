// TEMP_URL_SIGNAL (Heat's swift client plugin get_temp_url/get_signal_url and
// OS::Heat::SwiftSignal): a container named after the stack, an object per signalling resource,
// and a PUT temp URL of that object (HMAC-SHA1 with the account's Temp-URL key, made once when
// the account has none; it never expires, as Heat's). The container keeps every overwritten
// version (X-Versions-Location), so each PUT is one signal; the engine polls them.
import { createHmac, randomBytes } from 'node:crypto';
import type { ResourceContext } from './plugin.ts';

/** What a resource keeps of its signal object (`data.swift_signal`). */
export interface SwiftSignalData {
  container: string;
  versions: string;
  object: string;
  url: string;
}

export interface Signal {
  status: string;
  reason: unknown;
  data: unknown;
}

/** Heat's MAX_EPOCH - 60: a temp URL that does not expire. */
const NEVER = 2147483647 - 60;

function swiftOf(r: ResourceContext): NonNullable<ResourceContext['swift']> {
  if (!r.swift) throw new Error('TEMP_URL_SIGNAL needs the object store');
  return r.swift;
}

/** One key made at a time per account in this engine (two handles of a stack must not race). */
const making = new Map<string, Promise<string>>();

async function accountKey(r: ResourceContext): Promise<string> {
  const account = await swiftOf(r).url();
  const prev = making.get(account) ?? Promise.resolve('');
  const next = prev.catch(() => '').then(() => readOrSetKey(r));
  making.set(account, next);
  try {
    return await next;
  } finally {
    if (making.get(account) === next) making.delete(account);
  }
}

async function readOrSetKey(r: ResourceContext): Promise<string> {
  const swift = swiftOf(r);
  const head = await swift.request('HEAD', '');
  if (head.status >= 300) throw new Error(`The object store answered ${head.status} for the account`);
  const had = head.headers['x-account-meta-temp-url-key'];
  if (typeof had === 'string' && had) return had;
  const key = randomBytes(16).toString('hex');
  const set = await swift.request('POST', '', { headers: { 'X-Account-Meta-Temp-Url-Key': key } });
  if (set.status >= 300) throw new Error(`Setting the account's Temp-URL key failed: ${set.status}`);
  return key;
}

/** Makes (once) the signal container, its versions container, the empty object and its PUT temp URL. */
export async function swiftSignalUrl(r: ResourceContext): Promise<SwiftSignalData> {
  const had = r.data.swift_signal as SwiftSignalData | undefined;
  if (had) return had;
  const data = await makeSwiftSignal(r, `${r.stack.name}-${r.name}-${randomBytes(6).toString('hex')}`);
  r.data.swift_signal = data;
  return data;
}

/** A signal object of the stack's container and its PUT temp URL (not kept: the caller keeps it). */
export async function makeSwiftSignal(r: ResourceContext, object: string): Promise<SwiftSignalData> {
  const swift = swiftOf(r);
  const container = r.stack.id;
  const versions = `${r.stack.id}-versions`;
  for (const [c, headers] of [
    [versions, {}],
    [container, { 'X-Versions-Location': versions }],
  ] as const) {
    const res = await swift.request('PUT', `/${encodeURIComponent(c)}`, { headers });
    if (res.status >= 300) throw new Error(`Creating the signal container ${c} failed: ${res.status} ${res.text}`);
  }
  const put = await swift.request('PUT', `/${encodeURIComponent(container)}/${encodeURIComponent(object)}`, {
    body: '',
  });
  if (put.status >= 300) throw new Error(`Creating the signal object failed: ${put.status} ${put.text}`);
  const key = await accountKey(r);
  const account = await swift.url();
  const path = `${new URL(account).pathname}/${container}/${object}`;
  const sig = createHmac('sha1', key).update(`PUT\n${NEVER}\n${path}`).digest('hex');
  return {
    container,
    versions,
    object,
    url: `${account}/${encodeURIComponent(container)}/${encodeURIComponent(object)}?temp_url_sig=${sig}&temp_url_expires=${NEVER}`,
  };
}

/** The signal object's current body ('' when nothing was PUT yet). */
export async function swiftSignalBody(r: ResourceContext, d: SwiftSignalData): Promise<string> {
  const cur = await swiftOf(r).request('GET', `/${encodeURIComponent(d.container)}/${encodeURIComponent(d.object)}`);
  return cur.status === 200 ? cur.text : '';
}

function parseSignal(body: string, n: number, out: Record<string, Signal>) {
  if (!body.trim()) return;
  let s: unknown;
  try {
    s = JSON.parse(body);
  } catch {
    throw new Error(`Failed to parse JSON data: ${body}`);
  }
  const d = (s && typeof s === 'object' && !Array.isArray(s) ? s : { data: s }) as Record<string, unknown>;
  const status = d.status === undefined || d.status === null ? 'SUCCESS' : String(d.status);
  if (!['SUCCESS', 'FAILURE'].includes(status)) throw new Error(`Unknown status: ${status}`);
  const id = d.id === undefined || d.id === null ? String(n) : String(d.id);
  out[id] = { status, reason: d.reason ?? `Signal ${n} received`, data: d.data ?? null };
}

/** The signals PUT to a signal object: its older versions, oldest first, then the current one. */
export async function swiftSignals(r: ResourceContext, d: SwiftSignalData): Promise<Record<string, Signal>> {
  const swift = swiftOf(r);
  const out: Record<string, Signal> = {};
  const bodies: string[] = [];
  const prefix = `${d.object.length.toString(16).padStart(3, '0')}${d.object}/`;
  const list = await swift.request(
    'GET',
    `/${encodeURIComponent(d.versions)}?format=json&prefix=${encodeURIComponent(prefix)}`,
  );
  if (list.status === 200)
    for (const v of JSON.parse(list.text || '[]') as Array<{ name: string }>) {
      const o = await swift.request('GET', `/${encodeURIComponent(d.versions)}/${encodeURIComponent(v.name)}`);
      if (o.status === 200) bodies.push(o.text);
    }
  const cur = await swift.request('GET', `/${encodeURIComponent(d.container)}/${encodeURIComponent(d.object)}`);
  if (cur.status === 200) bodies.push(cur.text);
  let n = 0;
  for (const b of bodies) if (b.trim()) parseSignal(b, ++n, out);
  return out;
}

/** Removes the signal object and its versions (the containers go when empty). */
export async function deleteSwiftSignal(r: ResourceContext, d = r.data.swift_signal as SwiftSignalData | undefined) {
  if (!d || !r.swift) return;
  const swift = r.swift;
  const prefix = `${d.object.length.toString(16).padStart(3, '0')}${d.object}/`;
  // With X-Versions-Location a DELETE restores the previous version: the versions go first.
  const list = await swift.request(
    'GET',
    `/${encodeURIComponent(d.versions)}?format=json&prefix=${encodeURIComponent(prefix)}`,
  );
  if (list.status === 200)
    for (const v of JSON.parse(list.text || '[]') as Array<{ name: string }>)
      await swift.request('DELETE', `/${encodeURIComponent(d.versions)}/${encodeURIComponent(v.name)}`);
  await swift.request('DELETE', `/${encodeURIComponent(d.container)}/${encodeURIComponent(d.object)}`);
  for (const c of [d.container, d.versions]) await swift.request('DELETE', `/${encodeURIComponent(c)}`);
}

// Subunit v2 (the stream stestr stores and `stestr last --subunit` prints), read into one result per test.
// The format is small and fixed (python-subunit's v2.py is the reference): packets of
//   0xB3 | flags:u16 | length:varint (whole packet) | [timestamp] [test id] [tags] [mime] [file] [route] | crc32:u32
// Reading it here keeps the report code free of a Python round trip per run.
import { crc32 } from 'node:zlib';

const SIGNATURE = 0xb3;
const FLAG_TEST_ID = 0x0800;
const FLAG_ROUTE_CODE = 0x0400;
const FLAG_TIMESTAMP = 0x0200;
const FLAG_RUNNABLE = 0x0100;
const FLAG_TAGS = 0x0080;
const FLAG_FILE_CONTENT = 0x0040;
const FLAG_MIME_TYPE = 0x0020;
const FLAG_EOF = 0x0010;
const VERSION_2 = 0x2000;

export const SUBUNIT_STATUSES = [
  undefined,
  'exists',
  'inprogress',
  'success',
  'uxsuccess',
  'skip',
  'fail',
  'xfail',
] as const;
export type SubunitStatus = Exclude<(typeof SUBUNIT_STATUSES)[number], undefined>;

export interface SubunitPacket {
  status?: SubunitStatus;
  testId?: string;
  tags?: string[];
  timestamp?: Date;
  mimeType?: string;
  fileName?: string;
  fileBytes?: Buffer;
  routeCode?: string;
  runnable: boolean;
  eof: boolean;
}

export class SubunitParseError extends Error {}

function readVarint(buf: Buffer, pos: number): [number, number] {
  if (pos >= buf.length) throw new SubunitParseError(`number past end of packet at ${pos}`);
  const b0 = buf[pos]!;
  const kind = b0 & 0xc0;
  const v0 = b0 & 0x3f;
  const need = kind === 0x00 ? 1 : kind === 0x40 ? 2 : kind === 0x80 ? 3 : 4;
  if (pos + need > buf.length) throw new SubunitParseError(`number past end of packet at ${pos}`);
  let v = v0;
  for (let i = 1; i < need; i++) v = v * 256 + buf[pos + i]!;
  return [v, need];
}

function readUtf8(buf: Buffer, pos: number): [string, number] {
  const [len, used] = readVarint(buf, pos);
  const start = pos + used;
  if (start + len > buf.length) throw new SubunitParseError(`string at ${pos} runs past end of packet`);
  return [buf.toString('utf8', start, start + len), start + len];
}

/**
 * Splits a byte stream into packets. Bytes between packets that are not subunit (a worker's stray
 * prints) are returned as packets with fileName 'stdout' and no test id, as python-subunit does.
 */
export function parseSubunit(stream: Buffer): SubunitPacket[] {
  const packets: SubunitPacket[] = [];
  let pos = 0;
  let stray: number | undefined;
  const flushStray = (end: number) => {
    if (stray !== undefined && end > stray)
      packets.push({ fileName: 'stdout', fileBytes: stream.subarray(stray, end), runnable: false, eof: false });
    stray = undefined;
  };
  while (pos < stream.length) {
    if (stream[pos] !== SIGNATURE || pos + 3 > stream.length || (stream.readUInt16BE(pos + 1) & 0xf000) !== VERSION_2) {
      stray ??= pos;
      pos++;
      continue;
    }
    const flags = stream.readUInt16BE(pos + 1);
    const [length] = readVarint(stream, pos + 3);
    if (length < 8 || pos + length > stream.length) {
      stray ??= pos;
      pos++;
      continue;
    }
    const packet = stream.subarray(pos, pos + length);
    const stored = packet.readUInt32BE(length - 4);
    if (crc32(packet.subarray(0, length - 4)) >>> 0 !== stored) {
      throw new SubunitParseError(`bad checksum in packet at byte ${pos}`);
    }
    flushStray(pos);
    packets.push(decodeBody(packet, flags));
    pos += length;
  }
  flushStray(stream.length);
  return packets;
}

function decodeBody(packet: Buffer, flags: number): SubunitPacket {
  const body = packet.subarray(0, packet.length - 4);
  let [, p] = readVarint(body, 3);
  p += 3;
  const out: SubunitPacket = {
    runnable: (flags & FLAG_RUNNABLE) !== 0,
    eof: (flags & FLAG_EOF) !== 0,
  };
  const status = SUBUNIT_STATUSES[flags & 0x7];
  if (status) out.status = status;
  if (flags & FLAG_TIMESTAMP) {
    const seconds = body.readUInt32BE(p);
    const [nanos, used] = readVarint(body, p + 4);
    out.timestamp = new Date(seconds * 1000 + Math.floor(nanos / 1e6));
    p += 4 + used;
  }
  if (flags & FLAG_TEST_ID) [out.testId, p] = readUtf8(body, p);
  if (flags & FLAG_TAGS) {
    const [count, used] = readVarint(body, p);
    p += used;
    out.tags = [];
    for (let i = 0; i < count; i++) {
      let tag: string;
      [tag, p] = readUtf8(body, p);
      out.tags.push(tag);
    }
  }
  if (flags & FLAG_MIME_TYPE) [out.mimeType, p] = readUtf8(body, p);
  if (flags & FLAG_FILE_CONTENT) {
    [out.fileName, p] = readUtf8(body, p);
    const [len, used] = readVarint(body, p);
    p += used;
    if (p + len > body.length) throw new SubunitParseError('file content runs past end of packet');
    out.fileBytes = body.subarray(p, p + len);
    p += len;
  }
  if (flags & FLAG_ROUTE_CODE) [out.routeCode, p] = readUtf8(body, p);
  return out;
}

/** Encodes one packet; used to build streams in tests and nowhere else. */
export function encodeSubunitPacket(
  pk: Omit<SubunitPacket, 'runnable' | 'eof'> & { runnable?: boolean; eof?: boolean },
): Buffer {
  const parts: Buffer[] = [];
  const num = (v: number): Buffer => {
    if (v < 0x40) return Buffer.from([v]);
    if (v < 0x4000) return Buffer.from([0x40 | (v >> 8), v & 0xff]);
    if (v < 0x400000) return Buffer.from([0x80 | (v >> 16), (v >> 8) & 0xff, v & 0xff]);
    if (v < 0x40000000) return Buffer.from([0xc0 | (v >>> 24), (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
    throw new RangeError(`value too large for subunit: ${v}`);
  };
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([num(b.length), b]);
  };
  let flags = VERSION_2 | (pk.status ? SUBUNIT_STATUSES.indexOf(pk.status) : 0);
  if (pk.timestamp) {
    flags |= FLAG_TIMESTAMP;
    const ms = pk.timestamp.getTime();
    const secs = Buffer.alloc(4);
    secs.writeUInt32BE(Math.floor(ms / 1000));
    parts.push(secs, num((ms % 1000) * 1e6));
  }
  if (pk.testId !== undefined) {
    flags |= FLAG_TEST_ID;
    parts.push(str(pk.testId));
  }
  if (pk.tags) {
    flags |= FLAG_TAGS;
    parts.push(num(pk.tags.length), ...pk.tags.map(str));
  }
  if (pk.runnable ?? true) flags |= FLAG_RUNNABLE;
  if (pk.mimeType !== undefined) {
    flags |= FLAG_MIME_TYPE;
    parts.push(str(pk.mimeType));
  }
  if (pk.fileName !== undefined) {
    flags |= FLAG_FILE_CONTENT;
    const bytes = pk.fileBytes ?? Buffer.alloc(0);
    parts.push(str(pk.fileName), num(bytes.length), bytes);
  }
  if (pk.eof) flags |= FLAG_EOF;
  if (pk.routeCode !== undefined) {
    flags |= FLAG_ROUTE_CODE;
    parts.push(str(pk.routeCode));
  }
  const body = Buffer.concat(parts);
  // The length counts the whole packet, its own bytes included: try the sizes from small to large.
  for (const lenBytes of [1, 2, 3, 4]) {
    const total = 1 + 2 + lenBytes + body.length + 4;
    const lenField = num(total);
    if (lenField.length !== lenBytes) continue;
    const head = Buffer.alloc(3);
    head[0] = SIGNATURE;
    head.writeUInt16BE(flags, 1);
    const content = Buffer.concat([head, lenField, body]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(content) >>> 0);
    return Buffer.concat([content, crc]);
  }
  throw new RangeError('packet too large');
}

export type Outcome = 'pass' | 'fail' | 'skip';

export interface TestResult {
  /** The id as tempest reports it, e.g. `tempest.api.identity.v3.test_x.C.test_y[id-…,smoke]`. */
  rawId: string;
  /** The id without the `[...]` attribute suffix: what passing.txt keeps. */
  id: string;
  /** The attributes in the suffix (`id-…`, `smoke`, `negative`). */
  attrs: string[];
  /** The last status the stream gave; `inprogress` means the test never finished. */
  status: SubunitStatus;
  outcome: Outcome;
  /** For a class-level fixture (`setUpClass (pkg.Class)`): the class, whose tests did not run. */
  fixtureOf?: string;
  start?: Date;
  stop?: Date;
  seconds?: number;
  worker?: string;
  /** Attachments by name (`traceback`, `reason`, `pythonlogging`, ...), as text. */
  details: Record<string, string>;
}

const FIXTURE_RE = /^(setUpClass|tearDownClass|setUpModule|tearDownModule) \((.+)\)$/;

/** Splits `name[attr1,attr2]` into the bare id and its attributes. */
export function splitTestId(rawId: string): { id: string; attrs: string[] } {
  const m = /^(.*?)\[([^\]]*)\]$/.exec(rawId);
  if (!m) return { id: rawId, attrs: [] };
  return {
    id: m[1]!,
    attrs: m[2]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

function outcomeOf(status: SubunitStatus): Outcome {
  if (status === 'success' || status === 'xfail') return 'pass';
  if (status === 'skip') return 'skip';
  return 'fail';
}

/**
 * Folds packets into one result per test id, like testtools' StreamToDict: attachments of the same
 * name are concatenated, the last status wins. Ids that were only enumerated (`exists`) are dropped.
 */
export function collectResults(packets: SubunitPacket[]): TestResult[] {
  const byId = new Map<
    string,
    { status?: SubunitStatus; tags: Set<string>; details: Map<string, Buffer[]>; start?: Date; stop?: Date }
  >();
  for (const pk of packets) {
    if (pk.testId === undefined) continue;
    let t = byId.get(pk.testId);
    if (!t) {
      t = { tags: new Set(), details: new Map() };
      byId.set(pk.testId, t);
    }
    if (pk.tags) for (const tag of pk.tags) t.tags.add(tag);
    if (pk.fileName !== undefined && pk.fileBytes) {
      const list = t.details.get(pk.fileName) ?? [];
      list.push(pk.fileBytes);
      t.details.set(pk.fileName, list);
    }
    if (pk.status) {
      if (pk.status === 'inprogress') t.start ??= pk.timestamp;
      else if (pk.status !== 'exists') t.stop = pk.timestamp ?? t.stop;
      if (pk.status !== 'exists' || !t.status) t.status = pk.status;
    }
  }
  const out: TestResult[] = [];
  for (const [rawId, t] of byId) {
    if (!t.status || t.status === 'exists') continue;
    const { id, attrs } = splitTestId(rawId);
    const details: Record<string, string> = {};
    for (const [name, chunks] of t.details) details[name] = Buffer.concat(chunks).toString('utf8');
    const worker = [...t.tags].find((x) => x.startsWith('worker-'));
    const fixture = FIXTURE_RE.exec(id);
    const r: TestResult = { rawId, id, attrs, status: t.status, outcome: outcomeOf(t.status), details };
    if (fixture) r.fixtureOf = fixture[2];
    if (t.start) r.start = t.start;
    if (t.stop) r.stop = t.stop;
    if (t.start && t.stop) r.seconds = (t.stop.getTime() - t.start.getTime()) / 1000;
    if (worker) r.worker = worker;
    out.push(r);
  }
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

/** Why a test did not pass, in one line: the skip reason, or the exception that ended the traceback. */
export function summarizeResult(r: TestResult): string {
  if (r.outcome === 'skip') return (r.details.reason ?? '').trim() || 'skipped (no reason given)';
  if (r.status === 'inprogress') return 'no result: the test started and never finished (worker crash or timeout)';
  if (r.status === 'uxsuccess') return 'unexpected success';
  const tb = r.details.traceback ?? '';
  return lastException(tb) || 'failed (no traceback)';
}

/**
 * The exception that ended a Python traceback: what follows the last `  File "..."` frame and its
 * indented source lines (a message can run over several lines, e.g. tempest's `Details: {...}`).
 */
export function lastException(traceback: string, maxChars = 400): string {
  const lines = traceback.replace(/\r/g, '').split('\n');
  let i = -1;
  for (let k = lines.length - 1; k >= 0; k--)
    if (/^\s*File "/.test(lines[k]!)) {
      i = k;
      break;
    }
  let rest: string[];
  if (i < 0) rest = lines;
  else {
    const indent = /^(\s*)/.exec(lines[i]!)![1]!.length;
    let k = i + 1;
    // The frame's source line and Python 3.11's ^^^ markers are indented deeper than the frame.
    while (k < lines.length && (lines[k]!.trim() === '' || /^(\s*)/.exec(lines[k]!)![1]!.length > indent)) k++;
    rest = lines.slice(k);
  }
  const text = rest
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
  return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
}

/** A request URL with the host dropped and ids masked, so the same call groups across tests. */
export function normalizeRequestUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  const id = /^([0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{3,}|tempest-[\w-]+)$/i;
  const p = u.pathname
    .split('/')
    .map((seg) => (id.test(seg) ? '{id}' : seg))
    .join('/');
  const keys = [...new Set([...u.searchParams.keys()])];
  return keys.length ? `${p}?${keys.map((k) => `${k}=`).join('&')}` : p;
}

/**
 * The call that failed, when tempest's REST client raised: `METHOD /path → status` from the test's
 * captured log (the last request answered >= 400); a class fixture has no captured log, so its
 * lines from tempest.log come as `extraLog` (see requestLinesByCaller), failing which the traceback's
 * service-client method is named.
 */
export function failingRequest(r: TestResult, extraLog = ''): string | undefined {
  if (r.outcome !== 'fail') return undefined;
  const tb = r.details.traceback ?? '';
  if (!/tempest\.lib\.exceptions\.|rest_client\.py/.test(tb)) return undefined;
  const log =
    Object.entries(r.details)
      .filter(([k]) => k.startsWith('pythonlogging'))
      .map(([, v]) => v)
      .join('\n') + extraLog;
  let last: RegExpMatchArray | undefined;
  for (const m of log.matchAll(/Request \([^)]*\): (\d{3}) ([A-Z]+) (\S+)/g)) if (Number(m[1]) >= 400) last = m;
  if (last) return `${last[2]} ${normalizeRequestUrl(last[3]!)} → ${last[1]}`;
  const frames = [...tb.matchAll(/File "[^"]*\/tempest\/lib\/services\/([^"]+)\.py", line \d+, in (\w+)/g)];
  const f = frames.at(-1);
  return f ? `${f[1]}.${f[2]}()` : undefined;
}

/**
 * tempest.log's request lines by caller (`Request (EndPointsTestJSON:setUpClass): 400 POST ...`):
 * class fixtures log there only.
 */
export function requestLinesByCaller(tempestLog: string): Map<string, string> {
  const out = new Map<string, string[]>();
  for (const m of tempestLog.matchAll(/Request \(([\w]+:[\w]+)\): \d{3} [A-Z]+ \S+/g)) {
    const list = out.get(m[1]!) ?? [];
    list.push(m[0]);
    out.set(m[1]!, list);
  }
  return new Map([...out].map(([k, v]) => [k, `\n${v.join('\n')}`]));
}

/** The caller name tempest logs for a fixture: `setUpClass (pkg.mod.Class)` → `Class:setUpClass`. */
export function fixtureCaller(r: TestResult): string | undefined {
  const m = /^(\w+) \((.+)\)$/.exec(r.id);
  return m ? `${m[2]!.split('.').pop()}:${m[1]}` : undefined;
}

// clouds.yaml and openrc, as DevStack writes them. The user's file is edited with the yaml
// package's Document API: comments, ordering and the other clouds survive; a file that does not
// parse is left alone (the caller gets a warning to show).
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/** One clouds.yaml entry (os-client-config's shape). */
export interface CloudEntry {
  auth: Record<string, string>;
  region_name: string;
  identity_api_version: number;
  interface: string;
}

export interface CloudsWriteResult {
  /** The files written. */
  written: string[];
  /** Files left alone, with the reason. */
  warnings: string[];
}

/**
 * Sets `clouds.<name>` for every entry in the clouds.yaml at `file` (created 0600 when missing).
 * Other keys, other clouds and comments stay as they were.
 */
export function upsertClouds(
  file: string,
  clouds: Record<string, CloudEntry>,
): { ok: true } | { ok: false; reason: string } {
  let doc: YAML.Document;
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, 'utf8');
    doc = YAML.parseDocument(text);
    if (doc.errors.length) return { ok: false, reason: `it does not parse (${doc.errors[0]!.message.split('\n')[0]})` };
    const root = doc.contents;
    if (root !== null && !YAML.isMap(root)) return { ok: false, reason: 'its top level is not a mapping' };
    const existing = doc.get('clouds');
    if (existing !== undefined && existing !== null && !YAML.isMap(existing))
      return { ok: false, reason: "its 'clouds' key is not a mapping" };
    if (root === null) doc.contents = doc.createNode({}) as YAML.Document['contents'];
  } else {
    doc = new YAML.Document({});
    doc.commentBefore = ' Written by Stratus; add your own clouds beside these, they are kept.';
  }
  if (!YAML.isMap(doc.get('clouds'))) doc.set('clouds', doc.createNode({}));
  for (const [name, entry] of Object.entries(clouds)) doc.setIn(['clouds', name], doc.createNode(entry));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, doc.toString(), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return { ok: true };
}

/** Writes the entries into every file; a file that cannot be edited is named in `warnings`. */
export function writeClouds(files: string[], clouds: Record<string, CloudEntry>): CloudsWriteResult {
  const out: CloudsWriteResult = { written: [], warnings: [] };
  for (const f of files) {
    try {
      const r = upsertClouds(f, clouds);
      if (r.ok) out.written.push(f);
      else out.warnings.push(`${f} was left as it is: ${r.reason}`);
    } catch (e) {
      out.warnings.push(`${f} was left as it is: ${(e as Error).message}`);
    }
  }
  return out;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * DevStack's openrc: `source openrc [username] [project]` (default admin admin). The users and
 * their passwords come from the `users` table written into the script.
 */
export function openrcScript(o: {
  authUrl: string;
  region: string;
  users: Array<{ name: string; password: string; project: string }>;
}): string {
  const cases = o.users.map((u) => `  ${shellQuote(u.name)}) OS_PASSWORD=${shellQuote(u.password)} ;;`).join('\n');
  return [
    "# Stratus openrc, as DevStack's: `source openrc [username] [project]` (default: admin admin).",
    '# Users: ' + o.users.map((u) => `${u.name} (project ${u.project})`).join(', '),
    `OS_USERNAME=\${1:-admin}`,
    'case "$OS_USERNAME" in',
    cases,
    '  *) echo "openrc: unknown user $OS_USERNAME" >&2; return 1 2>/dev/null || exit 1 ;;',
    'esac',
    'case "$OS_USERNAME" in',
    ...o.users.map((u) => `  ${shellQuote(u.name)}) _DEFAULT_PROJECT=${shellQuote(u.project)} ;;`),
    'esac',
    'export OS_USERNAME OS_PASSWORD',
    'export OS_PROJECT_NAME=${2:-$_DEFAULT_PROJECT}',
    'unset _DEFAULT_PROJECT',
    `export OS_AUTH_URL=${o.authUrl}`,
    'export OS_AUTH_TYPE=password',
    'export OS_IDENTITY_API_VERSION=3',
    'export OS_USER_DOMAIN_ID=default',
    'export OS_PROJECT_DOMAIN_ID=default',
    `export OS_REGION_NAME=${o.region}`,
    '',
  ].join('\n');
}

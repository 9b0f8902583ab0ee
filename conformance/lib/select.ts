// Which kept tempest tests a change can break (`--regression --changed-since-baseline`), so CI
// does not run all of them for a change to one service. The baseline (conformance/ci-baseline) is
// the commit on which the whole lists last passed; the files changed since then decide:
// - anything shared (src/core, identity — every test authenticates —, the process wiring, the
//   harness, the dependencies) runs everything;
// - a service folder runs its own tempest areas and those of the services whose tests go through
//   it (compute's server tests create ports, volumes and images; Heat and telemetry call all);
// - tests, benchmarks and prose run nothing here (`npm test` covers our own tests);
// - ids added to the kept list since the baseline always run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The tempest areas (id prefixes) each service's own tests live in. */
const AREAS: Record<string, string[]> = {
  compute: ['tempest.api.compute.', 'tempest.scenario.'],
  placement: [],
  network: ['tempest.api.network.', 'neutron_tempest_plugin.', 'tempest.scenario.'],
  image: ['tempest.api.image.', 'glance_tempest_plugin.'],
  'block-storage': ['tempest.api.volume.', 'cinder_tempest_plugin.', 'tempest.scenario.'],
  'object-store': ['tempest.api.object_storage.'],
  orchestration: ['heat_tempest_plugin.'],
  telemetry: ['telemetry_tempest_plugin.'],
};

/** The services whose tempest tests call a service (directly, or as Heat and telemetry call them all). */
const USED_BY: Record<string, string[]> = {
  compute: ['block-storage', 'orchestration', 'telemetry'],
  placement: ['compute'],
  network: ['compute', 'orchestration', 'telemetry'],
  image: ['compute', 'block-storage', 'orchestration'],
  'block-storage': ['compute', 'orchestration', 'telemetry'],
  'object-store': ['block-storage', 'orchestration', 'telemetry'],
  orchestration: ['telemetry'],
  telemetry: ['orchestration'],
};

/** Paths a change to which affects no tempest test. */
const INERT = [
  /^test\//,
  /^bench\//,
  /\.md$/,
  /^docs\//,
  /^conformance\/passing[^/]*\.txt$/,
  /^conformance\/ci-baseline$/,
];

export interface Selection {
  /** Every kept test (something shared changed, or no usable baseline). */
  all: boolean;
  ids: string[];
  /** Why, in a line. */
  reason: string;
}

/** The services a set of changed paths touches; 'all' when something shared changed. */
export function affectedServices(files: string[]): Set<string> | 'all' {
  const out = new Set<string>();
  for (const f of files) {
    if (INERT.some((r) => r.test(f))) continue;
    const m = /^src\/([^/]+)\//.exec(f);
    if (!m || !(m[1]! in AREAS)) return 'all';
    out.add(m[1]!);
  }
  // The services whose tests go through the changed ones, transitively.
  const todo = [...out];
  while (todo.length) {
    for (const user of USED_BY[todo.pop()!] ?? [])
      if (!out.has(user)) {
        out.add(user);
        todo.push(user);
      }
  }
  return out;
}

export function selectKept(kept: string[], files: string[], addedIds: string[]): Selection {
  const services = affectedServices(files);
  if (services === 'all') return { all: true, ids: kept, reason: 'a shared part changed' };
  const prefixes = [...services].flatMap((s) => AREAS[s]!);
  const added = new Set(addedIds);
  const ids = kept.filter((id) => added.has(id) || prefixes.some((p) => id.startsWith(p)));
  const what = services.size ? [...services].sort().join(', ') : 'no service';
  return { all: false, ids, reason: `changed: ${what}; ${added.size} id(s) added to the list` };
}

const git = (repo: string, args: string[]) =>
  execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

/**
 * The kept ids to run for the change since the baseline commit in `baselineFile`; every id when
 * there is no baseline, it is not an ancestor of HEAD, or the work tree has uncommitted changes.
 */
export function selectSinceBaseline(repo: string, baselineFile: string, listFile: string, kept: string[]): Selection {
  const base = fs.existsSync(baselineFile) ? fs.readFileSync(baselineFile, 'utf8').trim() : '';
  if (!/^[0-9a-f]{7,40}$/.test(base)) return { all: true, ids: kept, reason: 'no baseline commit' };
  try {
    git(repo, ['merge-base', '--is-ancestor', base, 'HEAD']);
  } catch {
    return { all: true, ids: kept, reason: `the baseline ${base.slice(0, 12)} is not in HEAD's history` };
  }
  if (git(repo, ['status', '--porcelain', '--untracked-files=no']).trim())
    return { all: true, ids: kept, reason: 'uncommitted changes' };
  const files = git(repo, ['diff', '--name-only', base, 'HEAD']).split('\n').filter(Boolean);
  const rel = path.relative(repo, listFile);
  let before: string[] = [];
  try {
    before = git(repo, ['show', `${base}:${rel}`]).split('\n');
  } catch {
    // The list did not exist at the baseline: every id in it is new.
  }
  const had = new Set(before.map((l) => l.replace(/#.*/, '').trim()).filter(Boolean));
  const sel = selectKept(
    kept,
    files,
    kept.filter((id) => !had.has(id)),
  );
  return { ...sel, reason: `since ${base.slice(0, 12)} (${files.length} files) ${sel.reason}` };
}

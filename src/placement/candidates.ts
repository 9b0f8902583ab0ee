// Allocation candidates: placement's research context and allocation_candidate algorithm, run
// in memory over one consistent snapshot of providers, inventories, usages, traits and
// aggregates. Per request group: the unsuffixed group may spread its resources over a provider
// tree and sharing providers (MISC_SHARES_VIA_AGGREGATE, reached through an aggregate), each
// suffixed (granular) group is satisfied by a single provider. The groups' results are merged
// per anchor (root) provider, then group_policy, same_subtree and the consolidated capacity
// decide which combinations survive.
import type { Inventory, Provider, Snapshot } from './store.ts';
import { capacity } from './store.ts';

export const SHARES = 'MISC_SHARES_VIA_AGGREGATE';

export interface RequestGroup {
  useSameProvider: boolean;
  resources: Map<string, number>;
  /** AND of OR-sets. */
  required: Array<Set<string>>;
  forbidden: Set<string>;
  memberOf: Array<Set<string>>;
  forbiddenAggs: Set<string>;
  inTree?: string;
}

export interface RequestWide {
  limit?: number;
  groupPolicy?: 'none' | 'isolate';
  rootRequired?: Set<string>;
  rootForbidden?: Set<string>;
  sameSubtrees: Array<Set<string>>;
  nestedAware: boolean;
  randomize: boolean;
}

export interface ResourceRequest {
  rp: string;
  rc: string;
  amount: number;
}
export interface AllocationRequest {
  anchor: string;
  useSameProvider: boolean;
  resources: ResourceRequest[];
  mappings: Map<string, Set<string>>;
}
export interface ProviderSummary {
  provider: Provider;
  resources: Array<{ rc: string; capacity: number; used: number; max_unit: number }>;
  traits: string[];
}

interface Candidate {
  rp: string;
  root: string;
  rc: string;
}

const key = (a: AllocationRequest) => {
  const rr = a.resources
    .map((r) => `${r.rp}/${r.rc}/${r.amount}`)
    .sort()
    .join(',');
  const m = [...a.mappings]
    .map(([s, v]) => `${s}=${[...v].sort().join('+')}`)
    .sort()
    .join(';');
  return `${rr}|${m}`;
};

export class CandidateSearch {
  private hasTrees: boolean;
  private sharing: Set<string>;
  private anchorRoots: Set<string> | null = null;
  private summaries = new Map<string, ProviderSummary>();
  /** Resource classes asked by more than one group (their arrays are copied when consolidating). */
  private byAggregate = new Map<string, Set<string>>();

  constructor(
    private snap: Snapshot,
    private rw: RequestWide,
  ) {
    this.hasTrees = [...snap.providers.values()].some((p) => p.parent_uuid);
    this.sharing = new Set([...snap.providers.keys()].filter((u) => snap.traits.get(u)?.has(SHARES)));
    for (const [rp, aggs] of snap.aggregates)
      for (const a of aggs) {
        const s = this.byAggregate.get(a) ?? new Set();
        this.byAggregate.set(a, s);
        s.add(rp);
      }
  }

  run(groups: Map<string, RequestGroup>): { requests: AllocationRequest[]; summaries: ProviderSummary[] } {
    const none = { requests: [], summaries: [] };
    if ((this.rw.rootRequired?.size ?? 0) || (this.rw.rootForbidden?.size ?? 0)) {
      this.anchorRoots = new Set(
        [...this.snap.providers.values()]
          .filter(
            (p) =>
              !p.parent_uuid &&
              this.hasAll(p.uuid, this.rw.rootRequired) &&
              !this.hasAny(p.uuid, this.rw.rootForbidden),
          )
          .map((p) => p.uuid),
      );
      if (!this.anchorRoots.size) return none;
    }
    const candidates = new Map<string, AllocationRequest[]>();
    for (const [suffix, g] of groups) {
      const found = this.oneGroup(suffix, g);
      if (!found.length) return none;
      for (const a of found) a.useSameProvider = g.useSameProvider;
      candidates.set(suffix, found);
    }
    let { requests, summaries } = this.merge(candidates);
    if (!this.rw.nestedAware && this.hasTrees) {
      requests = requests.filter((a) => {
        const rps = new Set(a.resources.map((r) => r.rp));
        return rps.size === new Set([...rps].map((rp) => this.root(rp))).size;
      });
      const kept = new Set(requests.flatMap((a) => a.resources.map((r) => r.rp)));
      summaries = summaries.filter((s) => kept.has(s.provider.uuid));
    }
    const limit = this.rw.limit;
    if (limit && limit < requests.length) {
      requests = this.rw.randomize ? sample(requests, limit) : requests.slice(0, limit);
      const roots = new Set(requests.flatMap((a) => a.resources.map((r) => this.root(r.rp))));
      summaries = summaries.filter((s) => roots.has(s.provider.root_uuid));
    } else if (this.rw.randomize) requests = sample(requests, requests.length);
    return { requests, summaries };
  }

  // ---- helpers over the snapshot ---------------------------------------------------------

  private root(rp: string) {
    return this.snap.providers.get(rp)!.root_uuid;
  }
  private traitsOf(rp: string) {
    return this.snap.traits.get(rp) ?? new Set<string>();
  }
  private hasAll(rp: string, ts?: Set<string>) {
    const t = this.traitsOf(rp);
    return [...(ts ?? [])].every((x) => t.has(x));
  }
  private hasAny(rp: string, ts?: Set<string>) {
    const t = this.traitsOf(rp);
    return [...(ts ?? [])].some((x) => t.has(x));
  }
  private inAnchors(root: string) {
    return !this.anchorRoots || this.anchorRoots.has(root);
  }

  /** Providers in every one of the OR-sets of aggregates. */
  private inAggregates(memberOf: Array<Set<string>>): Set<string> {
    let out: Set<string> | null = null;
    for (const any of memberOf) {
      const s = new Set<string>();
      for (const a of any) for (const rp of this.byAggregate.get(a) ?? []) s.add(rp);
      const prev: Set<string> | null = out;
      out = prev ? new Set([...prev].filter((x: string) => s.has(x))) : s;
    }
    return out ?? new Set();
  }

  private fits(inv: Inventory | undefined, used: number, amount: number) {
    return (
      !!inv &&
      used + amount <= (inv.total - inv.reserved) * inv.allocation_ratio &&
      inv.min_unit <= amount &&
      inv.max_unit >= amount &&
      amount % inv.step_size === 0
    );
  }

  /** Providers (with their roots) that can give `amount` of `rc`, optionally inside one tree. */
  private withResource(rc: string, amount: number, treeRoot?: string): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const [rp, invs] of this.snap.inventories) {
      const p = this.snap.providers.get(rp);
      if (!p || (treeRoot && p.root_uuid !== treeRoot)) continue;
      if (this.fits(invs.get(rc), this.snap.usage.get(rp)?.get(rc) ?? 0, amount)) out.push([rp, p.root_uuid]);
    }
    return out;
  }

  /** The roots of the trees that share an aggregate with a sharing provider (its own included). */
  private anchorsOf(sp: string): Set<string> {
    const out = new Set<string>();
    for (const a of this.snap.aggregates.get(sp) ?? [])
      for (const rp of this.byAggregate.get(a) ?? []) out.add(this.root(rp));
    return out;
  }

  // ---- one request group -----------------------------------------------------------------

  private oneGroup(suffix: string, g: RequestGroup): AllocationRequest[] {
    let rpsInAggs = new Set<string>();
    if (g.memberOf.length) {
      rpsInAggs = this.inAggregates(g.memberOf);
      if (!rpsInAggs.size) return [];
    }
    let treeRoot: string | undefined;
    if (g.inTree) {
      const p = this.snap.providers.get(g.inTree);
      if (!p) return [];
      treeRoot = p.root_uuid;
    }
    const withRes = new Map<string, Array<[string, string]>>();
    for (const [rc, amount] of g.resources) {
      const l = this.withResource(rc, amount, treeRoot);
      if (!l.length) return [];
      withRes.set(rc, l);
    }
    if (!g.useSameProvider && (this.sharing.size || this.hasTrees)) {
      if (g.required.length) {
        const wanted = new Set(g.required.flatMap((s) => [...s]));
        if (![...this.snap.providers.keys()].some((rp) => [...this.traitsOf(rp)].some((t) => wanted.has(t)))) return [];
      }
      const cands = this.treesMatchingAll(g, withRes, rpsInAggs, treeRoot);
      return this.multipleProviders(suffix, g, cands);
    }
    return this.singleProvider(suffix, g, this.providersMatching(g, withRes, rpsInAggs, treeRoot));
  }

  private treesMatchingAll(
    g: RequestGroup,
    withRes: Map<string, Array<[string, string]>>,
    rpsInAggs: Set<string>,
    treeRoot?: string,
  ): Candidate[] {
    const badAggs = g.forbiddenAggs.size ? this.inAggregates([g.forbiddenAggs]) : new Set<string>();
    let all: Candidate[] | null = null;
    for (const [rc] of g.resources) {
      let list: Candidate[] = withRes.get(rc)!.map(([rp, root]) => ({ rp, root, rc }));
      const sharingHere = new Set(
        [...this.sharing].filter(
          (sp) => (!g.memberOf.length || rpsInAggs.has(sp)) && withRes.get(rc)!.some(([rp]) => rp === sp),
        ),
      );
      if (sharingHere.size && !treeRoot) {
        for (const sp of sharingHere) for (const anchor of this.anchorsOf(sp)) list.push({ rp: sp, root: anchor, rc });
      }
      if (this.anchorRoots) {
        list = list.filter((c) => this.anchorRoots!.has(c.root));
        if (!list.length) return [];
      }
      if (g.memberOf.length) {
        list = list.filter((c) => rpsInAggs.has(c.rp) || rpsInAggs.has(c.root));
        if (!list.length) return [];
      }
      if (g.forbiddenAggs.size) {
        list = list.filter((c) => !badAggs.has(c.rp) && !badAggs.has(c.root));
        if (!list.length) return [];
      }
      list = dedupe(list);
      if (!all) all = list;
      else {
        const prev: Candidate[] = all;
        const trees = new Set<string>(prev.map((c) => c.root));
        const common = new Set<string>(list.map((c) => c.root).filter((r) => trees.has(r)));
        all = [...prev, ...list].filter((c: Candidate) => common.has(c.root));
      }
      if (!all.length) return [];
    }
    all ??= [];
    if ((!g.required.length && !g.forbidden.size) || this.sharing.size) return all;
    // Keep the trees whose candidate providers (those without forbidden traits) collectively
    // have the required traits; the exact check happens per allocation request.
    const good = all.filter((c) => !this.hasAny(c.rp, g.forbidden));
    const goodRoots = new Set(good.map((c) => c.root));
    if (!g.required.length) return all.filter((c) => goodRoots.has(c.root));
    const rootTraits = new Map<string, Set<string>>();
    for (const c of good) {
      const s = rootTraits.get(c.root) ?? new Set();
      rootTraits.set(c.root, s);
      for (const t of this.traitsOf(c.rp)) s.add(t);
    }
    const ok = new Set(
      [...rootTraits].filter(([, ts]) => g.required.every((any) => [...any].some((t) => ts.has(t)))).map(([r]) => r),
    );
    return all.filter((c) => ok.has(c.root));
  }

  private multipleProviders(suffix: string, g: RequestGroup, cands: Candidate[]): AllocationRequest[] {
    if (!cands.length) return [];
    this.buildSummaries(new Set([...cands.map((c) => c.rp), ...cands.map((c) => c.root)]));
    const byTree = new Map<string, Map<string, ResourceRequest[]>>();
    for (const c of cands) {
      const t = byTree.get(c.root) ?? new Map<string, ResourceRequest[]>();
      byTree.set(c.root, t);
      const l = t.get(c.rc) ?? [];
      t.set(c.rc, l);
      l.push({ rp: c.rp, rc: c.rc, amount: g.resources.get(c.rc)! });
    }
    const out = new Map<string, AllocationRequest>();
    for (const [root, byRc] of byTree) {
      const lists = [...byRc.keys()].sort().map((rc) => byRc.get(rc)!);
      for (const combo of product(lists)) {
        if (!this.traitsSatisfied(combo, g)) continue;
        const a: AllocationRequest = {
          anchor: root,
          useSameProvider: false,
          resources: combo,
          mappings: new Map([[suffix, new Set(combo.map((r) => r.rp))]]),
        };
        out.set(key(a), a);
      }
    }
    return [...out.values()];
  }

  private traitsSatisfied(combo: ResourceRequest[], g: RequestGroup) {
    const all = new Set<string>();
    for (const r of combo) {
      const ts = this.traitsOf(r.rp);
      if ([...g.forbidden].some((f) => ts.has(f))) return false;
      for (const t of ts) all.add(t);
    }
    return g.required.every((any) => [...any].some((t) => all.has(t)));
  }

  private providersMatching(
    g: RequestGroup,
    withRes: Map<string, Array<[string, string]>>,
    rpsInAggs: Set<string>,
    treeRoot?: string,
  ): Array<[string, string]> {
    let filtered = new Set<string>();
    if (g.required.length) {
      filtered = new Set(
        [...this.snap.providers.keys()].filter((rp) => {
          const ts = this.traitsOf(rp);
          return g.required.every((any) => [...any].some((t) => ts.has(t)));
        }),
      );
      if (!filtered.size) return [];
    }
    if (g.memberOf.length) {
      filtered = filtered.size ? new Set([...filtered].filter((x) => rpsInAggs.has(x))) : new Set(rpsInAggs);
      if (!filtered.size) return [];
    }
    const forbiddenRps = new Set<string>();
    if (g.forbiddenAggs.size) for (const rp of this.inAggregates([g.forbiddenAggs])) forbiddenRps.add(rp);
    if (g.forbidden.size)
      for (const rp of this.snap.providers.keys()) if (this.hasAny(rp, g.forbidden)) forbiddenRps.add(rp);
    if (filtered.size && forbiddenRps.size) {
      filtered = new Set([...filtered].filter((x) => !forbiddenRps.has(x)));
      if (!filtered.size) return [];
    }
    let last: Array<[string, string]> = [];
    let first = true;
    for (const [rc] of g.resources) {
      last = withRes.get(rc)!;
      const ids = new Set(last.map(([rp]) => rp));
      if (first) {
        first = false;
        filtered = filtered.size
          ? new Set([...filtered].filter((x) => ids.has(x)))
          : new Set([...ids].filter((x) => !forbiddenRps.has(x)));
      } else filtered = new Set([...filtered].filter((x) => ids.has(x)));
      if (!filtered.size) return [];
    }
    if (!g.resources.size) {
      // A resourceless group (1.36, with same_subtree): any provider passing the filters.
      last = [...this.snap.providers.values()]
        .filter(
          (p) =>
            (!filtered.size || filtered.has(p.uuid)) &&
            !forbiddenRps.has(p.uuid) &&
            (!treeRoot || p.root_uuid === treeRoot),
        )
        .map((p) => [p.uuid, p.root_uuid]);
      return last;
    }
    return last.filter(([rp]) => filtered.has(rp));
  }

  private singleProvider(suffix: string, g: RequestGroup, tuples: Array<[string, string]>): AllocationRequest[] {
    if (!tuples.length) return [];
    this.buildSummaries(new Set(tuples.map(([, root]) => root)));
    const out: AllocationRequest[] = [];
    for (const [rp, root] of tuples) {
      const resources = [...g.resources].map(([rc, amount]) => ({ rp, rc, amount }));
      const req: AllocationRequest = {
        anchor: root,
        useSameProvider: g.useSameProvider,
        resources,
        mappings: new Map([[suffix, new Set([rp])]]),
      };
      if (this.inAnchors(root)) out.push(req);
      if (this.traitsOf(rp).has(SHARES)) {
        for (const anchor of this.anchorsOf(rp)) {
          if (anchor === root || !this.inAnchors(anchor)) continue;
          out.push({ ...req, anchor });
        }
      }
    }
    return out;
  }

  /** Summaries of every provider in the trees rooted at `roots` (ids that are not roots add nothing). */
  private buildSummaries(roots: Set<string>) {
    for (const p of this.snap.providers.values()) {
      if (!roots.has(p.root_uuid) || this.summaries.has(p.uuid)) continue;
      const resources = [...(this.snap.inventories.get(p.uuid) ?? new Map<string, Inventory>())].map(([rc, inv]) => ({
        rc,
        capacity: capacity(inv),
        used: this.snap.usage.get(p.uuid)?.get(rc) ?? 0,
        max_unit: inv.max_unit,
      }));
      this.summaries.set(p.uuid, { provider: p, resources, traits: traitOrder([...this.traitsOf(p.uuid)]) });
    }
  }

  // ---- merging the groups -------------------------------------------------------------

  private merge(candidates: Map<string, AllocationRequest[]>): {
    requests: AllocationRequest[];
    summaries: ProviderSummary[];
  } {
    // One group served by single providers, no trees, no sharing providers: every request is already one
    // distinct provider that fits (the scheduler's usual query); nothing to combine.
    const only = candidates.size === 1 ? [...candidates.values()][0]! : undefined;
    if (
      only &&
      !this.sharing.size &&
      !this.hasTrees &&
      !this.rw.sameSubtrees.length &&
      only.every((a) => a.resources.length && a.resources.every((r) => r.rp === a.resources[0]!.rp))
    ) {
      const roots = new Set(only.map((a) => this.root(a.resources[0]!.rp)));
      return { requests: only, summaries: [...this.summaries.values()].filter((s) => roots.has(s.provider.root_uuid)) };
    }
    const byAnchor = new Map<string, Map<string, AllocationRequest[]>>();
    for (const [suffix, areqs] of candidates) {
      for (const a of areqs) {
        const m = byAnchor.get(a.anchor) ?? new Map<string, AllocationRequest[]>();
        byAnchor.set(a.anchor, m);
        const l = m.get(suffix) ?? [];
        m.set(suffix, l);
        l.push(a);
      }
    }
    const suffixes = [...candidates.keys()];
    const granular = suffixes.filter((s) => s !== '').length;
    const out = new Map<string, AllocationRequest>();
    for (const [anchor, bySuffix] of byAnchor) {
      if (bySuffix.size !== suffixes.length) continue;
      for (const combo of product(suffixes.map((s) => bySuffix.get(s)!))) {
        if (!this.groupPolicyOk(combo, granular)) continue;
        if (!this.sameSubtreeOk(combo)) continue;
        const merged = consolidate(anchor, combo);
        if (this.exceedsCapacity(merged)) continue;
        out.set(key(merged), merged);
      }
    }
    if (!out.size) return { requests: [], summaries: [] };
    const requests = [...out.values()];
    const roots = new Set(requests.flatMap((a) => a.resources.map((r) => this.root(r.rp))));
    return { requests, summaries: [...this.summaries.values()].filter((s) => roots.has(s.provider.root_uuid)) };
  }

  private groupPolicyOk(combo: AllocationRequest[], granular: number) {
    if (this.rw.groupPolicy !== 'isolate') return true;
    const rps = new Set<string>();
    for (const a of combo) if (a.useSameProvider) for (const rp of [...a.mappings.values()][0]!) rps.add(rp);
    return rps.size === granular;
  }

  private sameSubtreeOk(combo: AllocationRequest[]) {
    for (const st of this.rw.sameSubtrees) {
      const rps = new Set<string>();
      for (const a of combo) for (const s of st) for (const rp of a.mappings.get(s) ?? []) rps.add(rp);
      if (rps.size <= 1) continue;
      const ancestors = [...rps].map((rp) => {
        const out = new Set<string>();
        let cur: string | null = rp;
        while (cur) {
          out.add(cur);
          cur = this.snap.providers.get(cur)?.parent_uuid ?? null;
        }
        return out;
      });
      const common = [...ancestors[0]!].filter((x) => ancestors.every((s) => s.has(x)));
      if (!common.some((x) => rps.has(x))) return false;
    }
    return true;
  }

  private exceedsCapacity(a: AllocationRequest) {
    for (const r of a.resources) {
      const s = this.summaries.get(r.rp)?.resources.find((x) => x.rc === r.rc);
      if (!s) {
        this.buildSummaries(new Set([this.root(r.rp)]));
      }
      const sum = this.summaries.get(r.rp)!.resources.find((x) => x.rc === r.rc)!;
      if (sum.used + r.amount > sum.capacity || r.amount > sum.max_unit) return true;
    }
    return false;
  }
}

/** Traits in upstream's id order: the standard ones (synced first), then the custom ones. */
export function traitOrder(ts: string[]): string[] {
  const custom = (t: string) => t.startsWith('CUSTOM_');
  return ts.sort((a, b) => Number(custom(a)) - Number(custom(b)) || (a < b ? -1 : a > b ? 1 : 0));
}

function consolidate(anchor: string, combo: AllocationRequest[]): AllocationRequest {
  const byKey = new Map<string, ResourceRequest>();
  const mappings = new Map<string, Set<string>>();
  for (const a of combo) {
    for (const r of a.resources) {
      const k = `${r.rp}/${r.rc}`;
      const cur = byKey.get(k);
      if (cur) cur.amount += r.amount;
      else byKey.set(k, { ...r });
    }
    for (const [s, rps] of a.mappings) {
      const m = mappings.get(s) ?? new Set();
      mappings.set(s, m);
      for (const rp of rps) m.add(rp);
    }
  }
  return { anchor, useSameProvider: false, resources: [...byKey.values()], mappings };
}

function* product<T>(lists: T[][]): Generator<T[]> {
  if (!lists.length) {
    yield [];
    return;
  }
  const idx = lists.map(() => 0);
  if (lists.some((l) => !l.length)) return;
  for (;;) {
    yield idx.map((i, n) => lists[n]![i]!);
    let n = lists.length - 1;
    while (n >= 0 && ++idx[n]! >= lists[n]!.length) {
      idx[n] = 0;
      n--;
    }
    if (n < 0) return;
  }
}

function dedupe(list: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return list.filter((c) => {
    const k = `${c.rp}|${c.root}|${c.rc}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function sample<T>(items: T[], n: number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

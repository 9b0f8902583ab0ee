// GET /allocation_candidates (1.10+): parses the request groups and request-wide parameters
// as placement.lib does, runs the search and shapes the answer for the microversion.
import type { FastifyInstance } from 'fastify';
import type { Microversion } from '../../core/http.ts';
import { ErrorCode, perr } from './errors.ts';
import { cacheHeaders, queryAll, queryParams } from './util.ts';
import { mv } from './microversion.ts';
import type { PlacementService } from '../service.ts';
import { CandidateSearch, type RequestGroup, type RequestWide } from '../candidates.ts';
import { parseInTree, parseMemberOf, parseResources, parseTraitParams, parseTraits } from './common.ts';

const GROUP = '[1-9][0-9]*';
const GROUP_1_33 = '[a-zA-Z0-9_-]{1,64}';

function schemaFor(v: Microversion) {
  if (!v.gte('1.25')) {
    const props: Record<string, unknown> = { resources: { type: 'string' } };
    if (v.gte('1.16')) props.limit = { type: 'string', pattern: '^[1-9][0-9]*$', minLength: 1 };
    if (v.gte('1.17')) props.required = { type: 'string' };
    if (v.gte('1.21')) props.member_of = { type: 'string' };
    return { type: 'object', properties: props, required: ['resources'], additionalProperties: false };
  }
  const kinds = ['resources', 'required', 'member_of', ...(v.gte('1.31') ? ['in_tree'] : [])];
  const g = v.gte('1.33') ? GROUP_1_33 : GROUP;
  const props: Record<string, unknown> = {
    limit: { type: 'string', pattern: '^[1-9][0-9]*$', minLength: 1 },
    group_policy: { type: 'string', enum: ['none', 'isolate'] },
  };
  if (v.gte('1.35')) props.root_required = { type: 'string' };
  if (v.gte('1.36')) props.same_subtree = { type: 'string' };
  return {
    type: 'object',
    properties: props,
    patternProperties: Object.fromEntries(kinds.map((k) => [`^${k}(${g})?$`, { type: 'string' }])),
    additionalProperties: false,
  };
}

export function registerCandidateRoutes(app: FastifyInstance, svc: PlacementService) {
  app.get('/allocation_candidates', async (req, reply) => {
    req.authorize('placement:allocation_candidates:list');
    const v = mv(req);
    queryParams(req, schemaFor(v));
    const q = queryAll(req);

    // ---- request-wide parameters
    const rw: RequestWide = { sameSubtrees: [], nestedAware: v.gte('1.29'), randomize: svc.randomizeCandidates };
    const limit = q.getAll('limit')[0];
    if (limit !== undefined) rw.limit = parseInt(limit, 10);
    const gp = q.getAll('group_policy')[0];
    if (gp) rw.groupPolicy = gp as 'none' | 'isolate';
    const rootReq = q.getAll('root_required');
    if (rootReq.length) {
      if (rootReq.length > 1)
        throw perr(
          400,
          "Query parameter 'root_required' may be specified only once.",
          ErrorCode.ILLEGAL_DUPLICATE_QUERYPARAM,
        );
      const t = parseTraits(rootReq[0]!, true, false);
      rw.rootRequired = new Set(t.required.map((s) => [...s][0]!));
      rw.rootForbidden = t.forbidden;
      const conflicts = [...rw.rootRequired].filter((x) => rw.rootForbidden!.has(x));
      if (conflicts.length)
        throw perr(
          400,
          `Conflicting required and forbidden traits found in root_required: ${conflicts.join(', ')}`,
          ErrorCode.QUERYPARAM_BAD_VALUE,
        );
    }
    for (const val of q.getAll('same_subtree')) {
      const suffixes = new Set(val.split(',').map((s) => s.trim()));
      if (suffixes.has(''))
        throw perr(
          400,
          'Empty string (unsuffixed group) can not be specified in `same_subtree` ',
          ErrorCode.QUERYPARAM_BAD_VALUE,
        );
      rw.sameSubtrees.push(suffixes);
    }

    // ---- request groups
    const pattern = new RegExp(`^(resources|required|member_of|in_tree)(${v.gte('1.33') ? GROUP_1_33 : GROUP})?$`);
    const groups = new Map<string, RequestGroup>();
    for (const [k, val] of q) {
      const m = pattern.exec(k);
      if (!m) continue;
      const suffix = m[2] ?? '';
      if (!v.gte('1.25') && suffix) continue;
      let g = groups.get(suffix);
      if (!g) {
        g = {
          useSameProvider: !!suffix,
          resources: new Map(),
          required: [],
          forbidden: new Set(),
          memberOf: [],
          forbiddenAggs: new Set(),
        };
        groups.set(suffix, g);
      }
      if (m[1] === 'resources') g.resources = new Map(Object.entries(parseResources(val)));
      else if (m[1] === 'required') {
        const t = parseTraitParams(q.getAll(k), v);
        g.required = t.required;
        g.forbidden = t.forbidden;
      } else if (m[1] === 'member_of') {
        const a = parseMemberOf(q.getAll(k), v, suffix);
        g.memberOf = a.required;
        g.forbiddenAggs = a.forbidden;
      } else g.inTree = parseInTree(val);
    }
    if (v.gte('1.36')) {
      const resourceless = [...groups].filter(([, g]) => !g.resources.size).map(([s]) => s);
      const inSubtree = new Set(rw.sameSubtrees.flatMap((s) => [...s]));
      if (resourceless.length === groups.size)
        throw perr(
          400,
          'There must be at least one resources or resources[$S] parameter.',
          ErrorCode.QUERYPARAM_MISSING_VALUE,
        );
      const bad = resourceless.filter((s) => !inSubtree.has(s));
      if (bad.length)
        throw perr(
          400,
          `Resourceless suffixed group request should be specified in \`same_subtree\` query param: bad group(s) - ${pyList(bad)}.`,
          ErrorCode.QUERYPARAM_BAD_VALUE,
        );
      const unknown = [...inSubtree].filter((s) => !groups.has(s));
      if (unknown.length)
        throw perr(
          400,
          `Real suffixes should be specified in \`same_subtree\`: ${pyList(unknown)} not found in ${pyList([...groups.keys()])}.`,
          ErrorCode.QUERYPARAM_BAD_VALUE,
        );
    } else {
      const orphanTraits = [...groups]
        .filter(([, g]) => g.required.length && !g.resources.size)
        .map(([s]) => `required${s}`);
      if (orphanTraits.length)
        throw perr(
          400,
          `All traits parameters must be associated with resources.  Found the following orphaned traits keys: ${orphanTraits.join(', ')}`,
        );
      const orphanAggs = [...groups]
        .filter(([, g]) => !g.resources.size && (g.memberOf.length || g.forbiddenAggs.size))
        .map(([s]) => `member_of${s}`);
      if (orphanAggs.length)
        throw perr(
          400,
          `All member_of parameters must be associated with resources. Found the following orphaned member_of keys: ${orphanAggs.join(', ')}`,
        );
      if (![...groups.values()].every((g) => g.resources.size))
        throw perr(400, 'All request groups must specify resources.');
      if (!groups.size) throw perr(400, 'At least one request group (`resources` or `resources{$S}`) is required.');
    }
    if (v.gte('1.22')) {
      const conflicting: string[] = [];
      for (const [s, g] of groups)
        for (const any of g.required)
          if ([...any].every((t) => g.forbidden.has(t)))
            conflicting.push(`required${s}: (${[...any].sort().join(', ')})`);
      if (conflicting.length)
        throw perr(
          400,
          `Conflicting required and forbidden traits found in the following traits keys: ${conflicting.sort().join(', ')}`,
        );
    }
    if (!rw.groupPolicy && [...groups.values()].filter((g) => g.useSameProvider).length > 1) {
      throw perr(
        400,
        'The "group_policy" parameter is required when specifying more than one "resources{N}" parameter.',
      );
    }

    // Unknown classes and traits are errors, as the resource class and trait caches raise.
    for (const g of groups.values())
      for (const rc of g.resources.keys()) {
        if (!(await svc.store.classExists(rc)))
          throw perr(400, `Invalid resource class in resources parameter: No such resource class ${rc}.`);
      }
    const traitNames = new Set<string>([...(rw.rootRequired ?? []), ...(rw.rootForbidden ?? [])]);
    for (const g of groups.values()) {
      for (const any of g.required) for (const t of any) traitNames.add(t);
      for (const t of g.forbidden) traitNames.add(t);
    }
    const missing = await svc.store.missingTraits(traitNames);
    if (missing.length)
      throw perr(400, `Invalid trait(s) in "required" parameter: No such trait(s): ${missing.sort().join(', ')}.`);

    const { requests, summaries } = new CandidateSearch(await svc.store.snapshot(), rw).run(groups);

    const allocation_requests = requests.map((a) => {
      const byRp = new Map<string, Record<string, number>>();
      for (const r of a.resources) {
        const m = byRp.get(r.rp) ?? {};
        byRp.set(r.rp, m);
        m[r.rc] = r.amount;
      }
      if (!v.gte('1.12'))
        return { allocations: [...byRp].map(([uuid, resources]) => ({ resource_provider: { uuid }, resources })) };
      const out: Record<string, unknown> = {
        allocations: Object.fromEntries([...byRp].map(([uuid, resources]) => [uuid, { resources }])),
      };
      if (v.gte('1.34')) out.mappings = Object.fromEntries([...a.mappings].map(([s, rps]) => [s, [...rps]]));
      return out;
    });
    const requested = new Set([...groups.values()].flatMap((g) => [...g.resources.keys()]));
    const provider_summaries: Record<string, unknown> = {};
    for (const s of summaries) {
      const ps: Record<string, unknown> = {
        resources: Object.fromEntries(
          s.resources
            .filter((r) => v.gte('1.27') || requested.has(r.rc))
            .map((r) => [r.rc, { capacity: r.capacity, used: r.used }]),
        ),
      };
      if (v.gte('1.17')) ps.traits = s.traits;
      if (v.gte('1.29')) {
        ps.parent_provider_uuid = s.provider.parent_uuid;
        ps.root_provider_uuid = s.provider.root_uuid;
      }
      provider_summaries[s.provider.uuid] = ps;
    }
    cacheHeaders(req, reply);
    return { allocation_requests, provider_summaries };
  });
}

/** A list as Python prints it in upstream's messages: ['a', 'b']. */
const pyList = (l: string[]) => `[${l.map((s) => `'${s}'`).join(', ')}]`;

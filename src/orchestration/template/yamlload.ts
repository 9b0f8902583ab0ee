// Loading template and environment text as Heat does: JSON first, then YAML 1.1 (PyYAML's SafeLoader,
// with timestamps kept as strings so "heat_template_version: 2013-05-23" stays a string).
import YAML from 'yaml';

const YAML_OPTIONS = {
  version: '1.1' as const,
  uniqueKeys: false,
  merge: true,
  customTags: pyyamlTags,
};

type Tag = YAML.Tags[number] & { tag?: string; test?: RegExp };

/** PyYAML's resolvers: no timestamps, no y/n booleans, floats need a dot. */
function pyyamlTags(tags: YAML.Tags): YAML.Tags {
  const out: YAML.Tags = [];
  for (const raw of tags) {
    const t = raw as Tag;
    if (t.tag === 'tag:yaml.org,2002:timestamp') continue;
    if (t.tag === 'tag:yaml.org,2002:bool' && t.test) {
      const yes = t.test.source.includes('[Tt]rue');
      out.push({
        ...(t as object),
        test: yes ? /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/ : /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/,
      } as YAML.Tags[number]);
      continue;
    }
    if (t.tag === 'tag:yaml.org,2002:float' && t.test && t.test.source.includes('[eE]')) {
      out.push({ ...(t as object), test: /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*[eE][-+]?[0-9]+$/ } as YAML.Tags[number]);
      continue;
    }
    out.push(raw);
  }
  return out;
}

/** Parses YAML 1.1 text; throws the parser's message. */
export function loadYaml(text: string): unknown {
  const docs = YAML.parseAllDocuments(text, YAML_OPTIONS);
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.length > 1) throw new Error('expected a single document in the stream');
  const doc = list[0];
  if (!doc) return null;
  if (doc.errors.length) throw new Error(doc.errors[0].message);
  const out = doc.toJS({ maxAliasCount: 1000 });
  assertAcyclic(out);
  return out;
}

/** A recursive alias (&a [*a]) makes a cycle that nothing downstream can walk: refuse it. */
function assertAcyclic(v: unknown, stack: Set<unknown> = new Set()): void {
  if (typeof v !== 'object' || v === null) return;
  if (stack.has(v)) throw new Error('recursive aliases are not supported');
  stack.add(v);
  for (const x of Array.isArray(v) ? v : Object.values(v)) assertAcyclic(x, stack);
  stack.delete(v);
}

/** Heat's simple_parse: JSON when it parses, else YAML. */
export function loadJsonOrYaml(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return loadYaml(text);
  }
}

// Property protections (Glance's property_protection_file): an INI file whose sections are
// regular expressions over extra property names, each with create/read/update/delete set to a
// comma-separated list of roles ('@' everyone, '!' nobody, empty nobody), or, with the `policies`
// rule format, to one policy rule name. The first section whose expression is found in a name
// decides; a name no section matches may not be touched at all. A bad file stops the start,
// as it stops glance-api.
import fs from 'node:fs';
import { ApiError } from '../core/errors.ts';

export type PropertyAction = 'create' | 'read' | 'update' | 'delete';
const ACTIONS: PropertyAction[] = ['create', 'read', 'update', 'delete'];

interface Rule {
  expression: string;
  pattern: RegExp;
  permissions: Record<PropertyAction, string[]>;
}

/** Python configparser's reading of the file: sections, `key = value` / `key: value`, comments, continuations. */
function parseIni(text: string, file: string): Array<{ name: string; options: Map<string, string> }> {
  const sections: Array<{ name: string; options: Map<string, string> }> = [];
  let current: { name: string; options: Map<string, string> } | undefined;
  let lastKey: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, '');
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      lastKey = undefined;
      continue;
    }
    if (/^\s/.test(line) && current && lastKey !== undefined) {
      current.options.set(lastKey, `${current.options.get(lastKey)}\n${trimmed}`);
      continue;
    }
    const section = /^\[(.+)\]$/.exec(trimmed);
    if (section) {
      if (sections.some((s) => s.name === section[1]))
        throw new Error(`Invalid property protection file ${file}: section [${section[1]}] appears twice`);
      current = { name: section[1]!, options: new Map() };
      sections.push(current);
      lastKey = undefined;
      continue;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!kv || !current) throw new Error(`Invalid property protection file ${file}: cannot read line '${trimmed}'`);
    lastKey = kv[1]!.toLowerCase();
    current.options.set(lastKey, kv[2]!);
  }
  return sections;
}

export class PropertyProtections {
  private rules: Rule[] = [];

  constructor(
    file: string,
    readonly format: 'roles' | 'policies' = 'roles',
  ) {
    if (format !== 'roles' && format !== 'policies')
      throw new Error(`Invalid value '${format}' for the property protection rule format: 'roles' or 'policies'`);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`Couldn't find property protection file ${file}: ${(e as Error).message}`);
    }
    for (const s of parseIni(text, file)) {
      let pattern: RegExp;
      try {
        pattern = new RegExp(s.name);
      } catch (e) {
        throw new Error(`Encountered a malformed property protection rule ${s.name}: ${(e as Error).message}`);
      }
      const permissions = {} as Record<PropertyAction, string[]>;
      for (const a of ACTIONS) {
        const v = s.options.get(a);
        if (v === undefined) throw new Error(`Invalid property protection file ${file}: [${s.name}] has no '${a}'`);
        const list = v.trim() ? v.split(',').map((x) => x.trim()) : [];
        if (format === 'policies' && list.length > 1)
          throw new Error(
            `Multiple policies '${v}' not allowed for a given operation. Policies can be combined in the policy file`,
          );
        if (list.includes('@') && list.includes('!'))
          throw new Error(
            `Malformed property protection rule in [${s.name}] ${a}=${v}: '@' and '!' are mutually exclusive`,
          );
        permissions[a] = list;
      }
      this.rules.push({ expression: s.name, pattern, permissions });
    }
  }

  /**
   * Glance's check_property_rules. `roles` are the caller's (and service) roles; `policy` answers
   * a policy rule name for the `policies` format.
   */
  allows(name: string, action: PropertyAction, roles: string[], policy: (rule: string) => boolean): boolean {
    if (!this.rules.length) return true;
    const rule = this.rules.find((r) => r.pattern.test(name));
    if (!rule) return false;
    const allowed = rule.permissions[action];
    if (!allowed.length || allowed.includes('!')) return false;
    if (allowed.includes('@')) return true;
    if (this.format === 'policies') return policy(allowed[0]!);
    const mine = new Set(roles);
    return allowed.some((r) => mine.has(r.toLowerCase()));
  }
}

/** What the image code asks of protections for one caller. */
export interface PropertyGuard {
  readable(name: string): boolean;
  /** Throws Glance's ReservedProperty (403) when the action is not allowed. */
  require(name: string, action: Exclude<PropertyAction, 'read'>): void;
}

export function propertyGuard(
  p: PropertyProtections | undefined,
  roles: string[],
  policy: (rule: string) => boolean,
): PropertyGuard | undefined {
  if (!p) return undefined;
  return {
    readable: (name) => p.allows(name, 'read', roles, policy),
    require: (name, action) => {
      if (!p.allows(name, action, roles, policy)) throw new ApiError(403, `Attribute '${name}' is reserved.`);
    },
  };
}

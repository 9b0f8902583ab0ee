// The intrinsic functions of every template version (heat/engine/hot/functions.py, cfn/functions.py):
// resolution against a ResolveContext, the static argument checks Heat makes when it parses a
// template, conditions, and the dependencies the functions imply.
import { createHash, getHashes } from 'node:crypto';
import { YaqlError, evaluateYaql, parseYaql } from '../../core/yaql/index.ts';
import { TemplateError, invalidVersion } from './errors.ts';
import type { ResolveContext, Template } from './types.ts';
import { isPlainObject, pyEq, pyIn, pyJson, pyRepr, pyStr, pyTypeName } from './util.ts';
import { type FnImpl, type VersionInfo, versionByName } from './versions.ts';

/** IfNullable's missing branch: the enclosing item is dropped. */
const OMIT: unique symbol = Symbol('omit');

type Path = Array<string | number>;

function err(message: string, path: Path): TemplateError {
  return new TemplateError(message, { path });
}

export function versionOf(t: Template): VersionInfo {
  const v = versionByName(t.version);
  if (!v) throw invalidVersion(`Template version was not provided`);
  return v;
}

/** The single function key of a snippet in the given table, or null. */
function fnKey(x: unknown, table: Record<string, FnImpl>): string | null {
  if (!isPlainObject(x)) return null;
  const keys = Object.keys(x);
  if (keys.length !== 1) return null;
  return Object.hasOwn(table, keys[0]) ? keys[0] : null;
}

/** Heat's attributes.select_from_attribute: a path into an attribute value; null when it does not apply. */
export function selectFromAttribute(value: unknown, path: unknown[]): unknown {
  let cur = value;
  for (const key of path) {
    if (Array.isArray(cur)) {
      const i =
        typeof key === 'number' ? key : typeof key === 'string' && /^-?\d+$/.test(key) ? Number(key) : Number.NaN;
      if (typeof key !== 'number') return null;
      const idx = i < 0 ? cur.length + i : i;
      if (idx < 0 || idx >= cur.length) return null;
      cur = cur[idx];
    } else if (isPlainObject(cur)) {
      if (typeof key !== 'string' && typeof key !== 'number') return null;
      const k = String(key);
      if (!Object.hasOwn(cur, k)) return null;
      cur = cur[k];
    } else if (typeof cur === 'string') {
      if (typeof key !== 'number') return null;
      const idx = key < 0 ? cur.length + key : key;
      if (idx < 0 || idx >= cur.length) return null;
      cur = cur[idx];
    } else return null;
  }
  return cur;
}

interface Hooks {
  param(name: string, path: Path): unknown;
  hasParam(name: string): boolean;
  resource(name: string, path: Path): string | null;
  attr(name: string, attr: string, p: unknown[], path: Path): unknown;
  file(name: string): string | undefined;
  condition(name: unknown, path: Path): boolean;
  facade(kind: 'metadata' | 'deletion_policy' | 'update_policy'): unknown;
  azs(): string[];
}

const PSEUDO_HOT = ['OS::stack_id', 'OS::stack_name', 'OS::project_id', 'OS::region'];
const PSEUDO_CFN = ['AWS::StackId', 'AWS::StackName', 'AWS::Region'];

function pseudo(ctx: ResolveContext, name: string): unknown {
  switch (name) {
    case 'OS::stack_id':
      return ctx.stack.id;
    case 'AWS::StackId':
      return `arn:openstack:heat::${ctx.stack.projectId}:stacks/${ctx.stack.name}/${ctx.stack.id}`;
    case 'OS::stack_name':
    case 'AWS::StackName':
      return ctx.stack.name;
    case 'OS::project_id':
      return ctx.stack.projectId;
    case 'OS::region':
    case 'AWS::Region':
      return ctx.stack.region;
    default:
      return undefined;
  }
}

/** Python's str.split(sep) (sep non-empty). */
function pySplit(s: string, sep: string, path: Path): string[] {
  if (sep === '') throw err('empty separator', path);
  return s.split(sep);
}

function pyQuote(s: string, safe: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(b);
    if (/[A-Za-z0-9_.\-~]/.test(ch) || safe.includes(ch)) out += ch;
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function pyUrlencode(q: Record<string, unknown>): string {
  const plus = (s: string) => pyQuote(s, ' ').replace(/ /g, '+');
  return Object.entries(q)
    .map(([k, v]) => `${plus(pyStr(k))}=${plus(pyStr(v))}`)
    .join('&');
}

const DIGESTS = new Set([
  'md5',
  'sha1',
  'sha224',
  'sha256',
  'sha384',
  'sha512',
  'sha3_224',
  'sha3_256',
  'sha3_384',
  'sha3_512',
  'blake2b',
  'blake2s',
]);

function nodeDigest(alg: string): string | null {
  const a = alg.toLowerCase();
  const map: Record<string, string> = {
    sha3_224: 'sha3-224',
    sha3_256: 'sha3-256',
    sha3_384: 'sha3-384',
    sha3_512: 'sha3-512',
    blake2b: 'blake2b512',
    blake2s: 'blake2s256',
  };
  const n = map[a] ?? a;
  return getHashes().includes(n) ? n : null;
}

/** The evaluator of snippets for one template version with one set of hooks. */
class Resolver {
  constructor(
    readonly t: Template,
    readonly v: VersionInfo,
    readonly hooks: Hooks,
    readonly conditionMode = false,
  ) {}

  get table(): Record<string, FnImpl> {
    return this.conditionMode ? this.v.conditionFunctions : this.v.functions;
  }

  node(x: unknown, path: Path): unknown {
    if (Array.isArray(x)) {
      const out: unknown[] = [];
      x.forEach((item, i) => {
        const r = this.node(item, [...path, i]);
        if (r !== OMIT) out.push(r);
      });
      return out;
    }
    if (isPlainObject(x)) {
      const keys = Object.keys(x);
      if (keys.length === 1) {
        const k = keys[0];
        if (Object.hasOwn(this.table, k)) return this.call(k, this.table[k], x[k], [...path, k]);
        if (this.conditionMode && Object.hasOwn(this.v.functions, k) && this.v.functions[k] !== 'removed') {
          throw err(`The function "${k}" is invalid in this context`, [...path, k]);
        }
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const r = this.node(x[k], [...path, k]);
        if (r !== OMIT) out[k] = r;
      }
      return out;
    }
    return x;
  }

  /** Resolves, with OMIT turned into null (a function argument). */
  arg(x: unknown, path: Path): unknown {
    const r = this.node(x, path);
    return r === OMIT ? null : r;
  }

  /** A condition argument: a boolean, a condition name, or (inline) a condition expression. */
  cond(x: unknown, path: Path): boolean {
    if (typeof x === 'boolean') return x;
    if (isPlainObject(x)) {
      const cr = new Resolver(this.t, this.v, this.hooks, true);
      const r = cr.node(x, path);
      if (typeof r === 'boolean') return r;
      return this.hooks.condition(r, path);
    }
    return this.hooks.condition(x, path);
  }

  call(name: string, impl: FnImpl, args: unknown, path: Path): unknown {
    checkStatic(this.v, name, impl, args, path);
    switch (impl) {
      case 'removed':
        throw invalidVersion(`The function ${name} is not supported in this version of HOT.`, path);
      case 'invalid':
        throw err(`The function "${name}" is invalid in this context`, path);
      case 'get_param':
        return this.getParam(name, args, path);
      case 'cfn_param_ref': {
        const n = this.arg(args, path);
        if (typeof n !== 'string' || !this.hooks.hasParam(n)) {
          throw new TemplateError(`The specified reference "${pyStr(n)}" (in unknown) is incorrect.`, {
            type: 'InvalidTemplateReference',
            path,
          });
        }
        return this.hooks.param(n, path);
      }
      case 'cfn_ref': {
        const n = this.arg(args, path);
        if (typeof n === 'string' && Object.hasOwn(this.t.resources, n)) return this.hooks.resource(n, path);
        if (typeof n !== 'string' || !this.hooks.hasParam(n)) {
          throw new TemplateError(`The specified reference "${pyStr(n)}" (in unknown) is incorrect.`, {
            type: 'InvalidTemplateReference',
            path,
          });
        }
        return this.hooks.param(n, path);
      }
      case 'get_resource': {
        const n = this.arg(args, path);
        return this.hooks.resource(pyStr(n), path);
      }
      case 'get_attr_then_select':
      case 'get_attr':
      case 'get_attr_all':
      case 'cfn_get_att': {
        const a = args as unknown[];
        const res = pyStr(this.arg(a[0], [...path, 0]));
        if (impl === 'get_attr_all' && a.length === 1) {
          this.hooks.resource(res, path);
          return this.hooks.attr(res, '', [], path);
        }
        const attr = this.arg(a[1], [...path, 1]);
        const rest = (this.arg(a.slice(2), path) as unknown[]) ?? [];
        if (impl === 'get_attr_then_select' || impl === 'cfn_get_att') {
          const v = this.hooks.attr(res, pyStr(attr), [], path);
          if (v === null || v === undefined) return null;
          return selectFromAttribute(v, rest);
        }
        return this.hooks.attr(res, pyStr(attr), rest, path);
      }
      case 'get_file': {
        const f = this.arg(args, path);
        if (typeof f !== 'string') throw err(`Argument to "${name}" must be a string`, path);
        const content = this.hooks.file(f);
        if (content === undefined || content === null) {
          throw err(`No content found in the "files" section for ${name} path: ${f}`, path);
        }
        return content;
      }
      case 'join':
      case 'cfn_join':
        return this.join(name, args as unknown[], path);
      case 'join_multiple':
        return this.joinMultiple(name, args as unknown[], path);
      case 'replace':
      case 'replace_json':
      case 'replace_json_strict':
      case 'replace_json_vstrict':
      case 'cfn_replace':
        return this.replace(name, impl, args, path);
      case 'repeat':
      case 'repeat_map':
      case 'repeat_nested':
        return this.repeat(name, impl, args as Record<string, unknown>, path);
      case 'digest': {
        const a = this.arg(args, path);
        if (!Array.isArray(a) || !a.every((x) => typeof x === 'string')) {
          throw err(`Argument to function "${name}" must be a list of strings`, path);
        }
        if (a.length !== 2) throw err(`Function "${name}" usage: ["<algorithm>", "<value>"]`, path);
        const alg = nodeDigest(a[0] as string);
        if (!alg || !DIGESTS.has((a[0] as string).toLowerCase())) {
          throw err(`Algorithm must be one of {${[...DIGESTS].map((d) => `'${d}'`).join(', ')}}`, path);
        }
        return createHash(alg)
          .update(Buffer.from(a[1] as string, 'latin1'))
          .digest('hex');
      }
      case 'str_split':
        return this.strSplit(name, args, path);
      case 'map_merge': {
        const a = this.arg(args, path);
        if (!Array.isArray(a)) {
          throw err(
            `Incorrect arguments to "${name}" should be: "${name}" : [ { "key1": "val1" }, { "key2": "val2" } ]`,
            path,
          );
        }
        const out: Record<string, unknown> = {};
        for (const m of a) {
          if (m === null || m === undefined) continue;
          if (!isPlainObject(m)) {
            throw err(
              `Incorrect arguments: Items to merge must be maps. ${pyRepr(m).slice(0, 200)} is type <class '${pyTypeName(m)}'> instead of a dict`,
              path,
            );
          }
          Object.assign(out, m);
        }
        return out;
      }
      case 'map_replace':
        return this.mapReplace(name, args, path);
      case 'yaql':
        return this.yaql(name, args as Record<string, unknown>, path);
      case 'if':
      case 'if_nullable':
      case 'cfn_if': {
        const a = args as unknown[];
        const chosen = this.cond(a[0], [...path, 0]) ? a[1] : a.length === 3 ? a[2] : OMIT;
        if (chosen === OMIT) return OMIT;
        return this.node(chosen, path);
      }
      case 'filter': {
        const a = args as unknown[];
        const seq = this.arg(a[1], [...path, 1]);
        if (!seq || (Array.isArray(seq) && seq.length === 0)) return seq;
        if (!Array.isArray(seq)) throw err(`"${name}" only works with lists`, path);
        const values = this.arg(a[0], [...path, 0]);
        if (!values || (Array.isArray(values) && values.length === 0)) return seq;
        if (!Array.isArray(values)) throw err(`"${name}" filters a list of values`, path);
        return seq.filter((i) => !pyIn(i, values));
      }
      case 'make_url':
        return this.makeUrl(name, args, path);
      case 'list_concat':
      case 'list_concat_unique': {
        const a = this.arg(args, path);
        if (!Array.isArray(a)) {
          throw err(
            `Incorrect arguments to "${name}" should be: "${name}" : [ [ <value 1>, <value 2> ], [ <value 3>, <value 4> ] ]`,
            path,
          );
        }
        const out: unknown[] = [];
        for (const m of a) {
          if (m === null || m === undefined) continue;
          if (!Array.isArray(m)) {
            throw err(
              `Incorrect arguments: Items to concat must be lists. ${pyJson(a)} contains an item that is not a list: ${pyJson(m)}`,
              path,
            );
          }
          out.push(...m);
        }
        if (impl === 'list_concat') return out;
        const uniq: unknown[] = [];
        for (const x of out) if (!uniq.some((y) => pyEq(x, y))) uniq.push(x);
        return uniq;
      }
      case 'contains': {
        const a = args as unknown[];
        const value = this.arg(a[0], [...path, 0]);
        const seq = this.arg(a[1], [...path, 1]);
        if (!Array.isArray(seq) && typeof seq !== 'string') {
          throw err(`Second argument to "${name}" should be a sequence.`, path);
        }
        return pyIn(value, seq);
      }
      case 'resource_facade':
      case 'cfn_resource_facade': {
        const kind = args as string;
        const k =
          (
            { Metadata: 'metadata', DeletionPolicy: 'deletion_policy', UpdatePolicy: 'update_policy' } as Record<
              string,
              'metadata' | 'deletion_policy' | 'update_policy'
            >
          )[kind] ?? (kind as 'metadata' | 'deletion_policy' | 'update_policy');
        return this.hooks.facade(k);
      }
      case 'equals':
      case 'cfn_equals': {
        const a = args as unknown[];
        return pyEq(this.arg(a[0], [...path, 0]), this.arg(a[1], [...path, 1]));
      }
      case 'not':
        return !this.cond(this.arg(args, path), path);
      case 'cfn_not':
        return !this.cond(this.arg((args as unknown[])[0], path), path);
      case 'and':
      case 'cfn_and':
        return (this.arg(args, path) as unknown[]).every((c, i) => this.cond(c, [...path, i]));
      case 'or':
      case 'cfn_or':
        return (this.arg(args, path) as unknown[]).some((c, i) => this.cond(c, [...path, i]));
      case 'cfn_find_in_map': {
        const a = args as unknown[];
        const m = this.t.mappings[pyStr(this.arg(a[0], path))];
        const key = pyStr(this.arg(a[1], path));
        const val = pyStr(this.arg(a[2], path));
        if (!isPlainObject(m) || !isPlainObject(m[key]) || !Object.hasOwn(m[key] as object, val)) {
          throw err(`'${val}'`, path);
        }
        return (m[key] as Record<string, unknown>)[val];
      }
      case 'cfn_get_azs':
        return this.hooks.azs();
      case 'cfn_select':
        return this.select(name, args as unknown[], path);
      case 'cfn_split': {
        const a = args as unknown[];
        const strings = this.arg(a[1], [...path, 1]);
        if (typeof a[0] !== 'string') throw err(`Delimiter for ${name} must be string`, path);
        if (typeof strings !== 'string') {
          throw err(`String to split must be string; got <class '${pyTypeName(strings)}'>`, path);
        }
        return pySplit(strings, a[0], path);
      }
      case 'cfn_base64': {
        const s = this.arg(args, path);
        if (typeof s !== 'string') throw err(`"${name}" argument must be a string`, path);
        return s;
      }
      case 'cfn_member_list_to_map': {
        const a = args as unknown[];
        const list = this.arg(a[2], path);
        if (!Array.isArray(list)) throw err('Member list must be a list', path);
        const partial: Record<string, string> = {};
        for (const s of list) {
          if (typeof s !== 'string') throw err('Member list items must be strings', path);
          const i = s.indexOf('=');
          if (i < 0) throw err('dictionary update sequence element #0 has length 1; 2 is required', path);
          partial[s.slice(0, i)] = s.slice(i + 1);
        }
        return extractParamPairs(partial, a[0] as string, a[1] as string);
      }
    }
    throw err(`Unknown function "${name}"`, path);
  }

  getParam(name: string, args: unknown, path: Path): unknown {
    const a = this.arg(args, path);
    if (!a || (Array.isArray(a) && a.length === 0)) throw err(`Function "${name}" must have arguments`, path);
    let pname: unknown;
    let comps: unknown[];
    if (typeof a === 'string') {
      pname = a;
      comps = [];
    } else if (Array.isArray(a)) {
      pname = a[0];
      comps = a.slice(1);
    } else throw err(`Argument to "${name}" must be string or list`, path);
    if (typeof pname !== 'string') throw err(`Parameter name in "${name}" must be string`, path);
    let cur = this.hooks.param(pname, path);
    for (const key of comps) {
      if (!Array.isArray(cur) && !isPlainObject(cur) && typeof cur !== 'string') {
        throw err(`"${name}" can't traverse path`, path);
      }
      if (typeof key !== 'string' && typeof key !== 'number')
        throw err(`Path components in "${name}" must be strings`, path);
      if (Array.isArray(cur) || typeof cur === 'string') {
        let idx: number;
        if (typeof key === 'string') {
          if (!/^\s*[-+]?\d+\s*$/.test(key)) {
            throw err(`Path components in '${name}' must be a string that can be parsed into an integer.`, path);
          }
          idx = Number(key);
        } else idx = key;
        const i = idx < 0 ? cur.length + idx : idx;
        if (!Number.isInteger(i) || i < 0 || i >= cur.length) return '';
        cur = cur[i];
      } else {
        const k = String(key);
        if (!Object.hasOwn(cur as object, k)) return '';
        cur = (cur as Record<string, unknown>)[k];
      }
    }
    return cur;
  }

  join(name: string, args: unknown[], path: Path): string {
    let strings = this.arg(args[1], [...path, 1]);
    if (strings === null || strings === undefined) strings = [];
    if (!Array.isArray(strings)) throw err(`"${name}" must operate on a list`, path);
    const delim = this.arg(args[0], [...path, 0]);
    if (typeof delim !== 'string') throw err(`"${name}" delimiter must be a string`, path);
    return strings
      .map((s) => {
        if (s === null || s === undefined) return '';
        if (typeof s !== 'string') throw err(`Items to join must be strings not ${pyRepr(s).slice(0, 200)}`, path);
        return s;
      })
      .join(delim);
  }

  joinMultiple(name: string, args: unknown[], path: Path): string {
    const lists = this.arg(args.slice(1), path) as unknown[];
    const strings: unknown[] = [];
    for (const jl of lists) {
      if (jl === null || jl === undefined || jl === '' || (Array.isArray(jl) && jl.length === 0)) continue;
      if (!Array.isArray(jl)) {
        if (isPlainObject(jl) && Object.keys(jl).length === 0) continue;
        throw err(`"${name}" must operate on a list`, path);
      }
      strings.push(...jl);
    }
    const delim = this.arg(args[0], [...path, 0]);
    if (typeof delim !== 'string') throw err(`"${name}" delimiter must be a string`, path);
    return strings
      .map((s) => {
        if (s === null || s === undefined) return '';
        if (typeof s === 'string') return s;
        if (Array.isArray(s) || isPlainObject(s)) return pyJson(s, true);
        throw err(`Items to join must be string, map or list not ${pyRepr(s).slice(0, 200)}`, path);
      })
      .join(delim);
  }

  replace(name: string, impl: FnImpl, args: unknown, path: Path): string {
    let mappingRaw: unknown;
    let templateRaw: unknown;
    if (impl === 'cfn_replace') {
      [mappingRaw, templateRaw] = args as unknown[];
    } else {
      mappingRaw = (args as Record<string, unknown>).params;
      templateRaw = (args as Record<string, unknown>).template;
    }
    const template = this.arg(templateRaw, path);
    const mapping = this.arg(mappingRaw, path);
    if (typeof template !== 'string') throw err(`"${name}" template must be a string`, path);
    if (!isPlainObject(mapping)) throw err(`"${name}" params must be a map`, path);
    const strict = impl === 'replace_json_strict' || impl === 'replace_json_vstrict';
    const allowEmpty = impl !== 'replace_json_vstrict';
    const json = impl.startsWith('replace_json');
    const emptyErr = (param: string) =>
      err(`${name} has an undefined or empty value for param ${param}, must be a defined non-empty value`, path);
    const toText = (value: unknown, param: string): string => {
      if (value === null || value === undefined) {
        if (allowEmpty) return '';
        throw emptyErr(param);
      }
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        const s = pyStr(value);
        if (!allowEmpty && !s) throw emptyErr(param);
        return s;
      }
      if (!json) throw err(`"${name}" params must be strings or numbers, param ${param} is not valid`, path);
      if (!allowEmpty && (Array.isArray(value) ? value.length === 0 : Object.keys(value as object).length === 0)) {
        throw emptyErr(param);
      }
      return pyJson(value, true);
    };
    const keys = Object.keys(mapping)
      .sort()
      .sort((a, b) => b.length - a.length);
    const unreplaced = new Set(keys);
    const rec = (strings: string[], ks: string[]): string[] => {
      if (ks.length === 0) return strings;
      const placeholder = ks[0];
      const value = toText(mapping[placeholder], placeholder);
      return strings.map((s) => {
        const parts = placeholder === '' ? [s] : s.split(placeholder);
        if (parts.length > 1) unreplaced.delete(placeholder);
        return rec(parts, ks.slice(1)).join(value);
      });
    };
    const out = rec([template], keys)[0];
    if (strict && unreplaced.size > 0) {
      const list = [...unreplaced].sort().sort((a, b) => b.length - a.length);
      throw err(`The following params were not found in the template: ${list.join(',')}`, path);
    }
    return out;
  }

  repeat(name: string, impl: FnImpl, args: Record<string, unknown>, path: Path): unknown[] {
    const forEach = this.arg(args.for_each, path);
    if (!isPlainObject(forEach)) throw err(`The "for_each" argument to "${name}" must contain a map`, path);
    // plain repeat and repeat with maps always iterate over every combination
    const nested = impl === 'repeat_nested' ? args.permutations !== false : true;
    const keys = Object.keys(forEach);
    const values: unknown[][] = [];
    const lens: number[] = [];
    for (const k of keys) {
      const v = forEach[k];
      if (v === null || v === undefined) {
        values.push([]);
        continue;
      }
      const mapsOk = impl === 'repeat_map' || (impl === 'repeat_nested' && nested);
      if (!(Array.isArray(v) || (mapsOk && isPlainObject(v)))) {
        throw err(
          mapsOk
            ? `The values of the "for_each" argument to "${name}" must be lists or maps`
            : `The values of the "for_each" argument to "${name}" must be lists`,
          path,
        );
      }
      const list = Array.isArray(v) ? v : Object.keys(v);
      values.push(list);
      lens.push(list.length);
    }
    if (!nested && lens.length && new Set(lens).size !== 1) {
      throw err(`For ${name}, the length of for_each values should be equal if no nested loop.`, path);
    }
    const template = this.arg(args.template, path);
    const combos: unknown[][] = [];
    if (nested) {
      const prod = (i: number, acc: unknown[]) => {
        if (i === values.length) {
          combos.push(acc);
          return;
        }
        for (const x of values[i]) prod(i + 1, [...acc, x]);
      };
      if (values.length) prod(0, []);
    } else {
      const n = values.length ? Math.min(...values.map((l) => l.length)) : 0;
      for (let i = 0; i < n; i++) combos.push(values.map((l) => l[i]));
    }
    const sub = (tpl: unknown, repl: unknown[]): unknown => {
      if (typeof tpl === 'string') {
        let s = tpl;
        keys.forEach((k, i) => {
          s = s.split(k).join(pyStr(repl[i]));
        });
        return s;
      }
      if (Array.isArray(tpl)) return tpl.map((e) => sub(e, repl));
      if (isPlainObject(tpl)) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(tpl)) out[sub(k, repl) as string] = sub(v, repl);
        return out;
      }
      return tpl;
    };
    return combos.map((c) => sub(template, c));
  }

  strSplit(name: string, args: unknown, path: Path): unknown {
    const example = `"${name}" : [ ",", "apples,pears", <index>]`;
    const a = this.arg(args, path);
    if (!Array.isArray(a) || a.length < 2) {
      throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
    }
    const [delim, s] = a;
    if (s === null || s === undefined) return null;
    if (typeof s !== 'string' || typeof delim !== 'string') {
      throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
    }
    const list = pySplit(s, delim, path);
    if (a.length > 2) {
      const raw = a[2];
      const idx =
        typeof raw === 'number' ? Math.trunc(raw) : /^\s*[-+]?\d+\s*$/.test(String(raw)) ? Number(raw) : Number.NaN;
      if (Number.isNaN(idx)) throw err(`Incorrect index to "${name}" should be: ${example}`, path);
      const i = idx < 0 ? list.length + idx : idx;
      if (i < 0 || i >= list.length) {
        throw err(`Incorrect index to "${name}" should be between 0 and ${list.length - 1}`, path);
      }
      return list[i];
    }
    return list;
  }

  mapReplace(name: string, args: unknown, path: Path): Record<string, unknown> {
    const example = `"${name}" : [ { "key1": "val1" }, {"keys": {"key1": "key2"}, "values": {"val1": "val2"}}]`;
    const a = this.arg(args, path);
    const ensure = (m: unknown) => {
      if (m === null || m === undefined) return {};
      if (isPlainObject(m)) return m;
      throw err(`Incorrect arguments: to "${name}", arguments must be a list of maps. Example:  ${example}`, path);
    };
    if (!Array.isArray(a) || a.length !== 2) throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
    const input = ensure(a[0]);
    const repl = ensure(a[1]);
    for (const k of Object.keys(repl)) {
      if (k !== 'keys' && k !== 'values') throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
    }
    const rk = ensure(repl.keys);
    const rv = ensure(repl.values);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) {
      let key = rk[k] as string | undefined | null;
      if (key === undefined || key === null) key = k;
      else if (Object.hasOwn(input, key) && key !== k) {
        throw err(`key replacement ${key} collides with a key in the input map`, path);
      } else if (Object.hasOwn(out, key)) {
        throw err(`key replacement ${key} collides with a key in the output map`, path);
      }
      const hashable = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
      out[key] = hashable && Object.hasOwn(rv, pyStr(v)) && typeof v === 'string' ? rv[v] : v;
    }
    return out;
  }

  yaql(name: string, args: Record<string, unknown>, path: Path): unknown {
    const expression = this.arg(args.expression, path);
    if (typeof expression !== 'string') {
      throw err(`The "expression" argument to ${name} must contain a string.`, path);
    }
    const data = this.arg(args.data ?? {}, path);
    try {
      return evaluateYaql(expression, { data });
    } catch (e) {
      if (e instanceof YaqlError) throw err(`Bad expression ${e.message}.`, path);
      throw err((e as Error).message, path);
    }
  }

  select(name: string, args: unknown[], path: Path): unknown {
    const index = this.arg(args[0], [...path, 0]);
    let strings = this.arg(args[1], [...path, 1]);
    if (strings === '') return '';
    if (typeof strings === 'string') {
      try {
        strings = JSON.parse(strings);
      } catch (e) {
        throw err(`"${name}": ${(e as Error).message}`, path);
      }
    }
    if (isPlainObject(strings)) {
      if (typeof index !== 'string') throw err(`Index to "${name}" must be a string`, path);
      return Object.hasOwn(strings, index) ? strings[index] : '';
    }
    let idx: unknown = index;
    if (typeof idx === 'string' && /^\s*[-+]?\d+\s*$/.test(idx)) idx = Number(idx);
    if (Array.isArray(strings)) {
      if (typeof idx !== 'number' || !Number.isInteger(idx)) throw err(`Index to "${name}" must be an integer`, path);
      const i = idx < 0 ? strings.length + idx : idx;
      return i >= 0 && i < strings.length ? strings[i] : '';
    }
    if (strings === null || strings === undefined) return '';
    throw err(`Arguments to ${name} not fully resolved`, path);
  }

  makeUrl(name: string, args: unknown, path: Path): string {
    const a = this.arg(args, path) as Record<string, unknown>;
    checkMakeUrlArgs(name, a, path);
    const scheme = (a.scheme as string) ?? '';
    if (scheme.includes(':')) throw err(`URL "scheme" should not contain ':'`, path);
    let netloc = '';
    const user = pyQuote((a.username as string) ?? '', '');
    const pass = pyQuote((a.password as string) ?? '', '');
    if (user || pass) netloc += user + (pass ? `:${pass}` : '') + '@';
    let host = (a.host as string) ?? '';
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    host = pyQuote(host, ':');
    if (host.includes(':')) host = `[${host}]`;
    netloc += host;
    const port = a.port;
    if (port !== undefined && port !== null && port !== '' && port !== 0) netloc += `:${pyStr(port)}`;
    const p = pyQuote((a.path as string) ?? '', '/');
    const query = pyUrlencode((a.query as Record<string, unknown>) ?? {}).replace(/%2F/g, '/');
    const fragment = pyQuote((a.fragment as string) ?? '', '/');
    // urllib.parse.urlunsplit
    let url = p;
    if (netloc || (scheme && USES_NETLOC.includes(scheme) && !url.startsWith('//'))) {
      if (url && !url.startsWith('/')) url = `/${url}`;
      url = `//${netloc}${url}`;
    }
    if (scheme) url = `${scheme}:${url}`;
    if (query) url += `?${query}`;
    if (fragment) url += `#${fragment}`;
    return url;
  }
}

const USES_NETLOC = [
  'ftp',
  'http',
  'gopher',
  'nntp',
  'telnet',
  'imap',
  'wais',
  'file',
  'mms',
  'https',
  'shttp',
  'snews',
  'prospero',
  'rtsp',
  'rtspu',
  'rsync',
  'svn',
  'svn+ssh',
  'sftp',
  'nfs',
  'git',
  'git+ssh',
  'ws',
  'wss',
];

function checkMakeUrlArgs(name: string, a: unknown, path: Path): void {
  if (!isPlainObject(a)) throw err(`The arguments to "${name}" must be a map`, path);
  const KEYS = ['scheme', 'username', 'password', 'host', 'port', 'path', 'query', 'fragment'];
  const bad = Object.keys(a).filter((k) => !KEYS.includes(k));
  if (bad.length) throw err(`Invalid arguments to "${name}": ${bad.join(', ')}`, path);
  for (const k of KEYS) {
    if (!(k in a)) continue;
    const v = a[k];
    if (fnLike(v)) continue;
    if (k === 'query') {
      if (!isPlainObject(v)) throw err(`The "query" argument to "${name}" must be a map`, path);
      return;
    }
    if (k === 'port') {
      let port = v;
      if (typeof port !== 'number') {
        if (!/^\s*[-+]?\d+\s*$/.test(pyStr(port))) {
          throw err(`Invalid URL port "${pyStr(port)}" for ${name} called with ${pyStr(a)}`, path);
        }
        port = Number(port);
      }
      if (!((port as number) > 0 && (port as number) <= 65535)) {
        throw err(`Invalid URL port ${port}, must be in range 1-65535`, path);
      }
    } else if (typeof v !== 'string') throw err(`The "${k}" argument to "${name}" must be a string`, path);
  }
}

function fnLike(x: unknown): boolean {
  return isPlainObject(x) && Object.keys(x).length === 1;
}

/** heat.common.aws_utils.extract_param_pairs for Fn::MemberListToMap. */
function extractParamPairs(params: Record<string, string>, keyname: string, valuename: string): Record<string, string> {
  const members: Record<string, Record<string, string>> = {};
  for (const [k, v] of Object.entries(params)) {
    const m = /^\.member\.(\d+)\.(.+)$/.exec(k);
    if (!m) continue;
    members[m[1]] ??= {};
    members[m[1]][m[2]] = v;
  }
  const out: Record<string, string> = {};
  for (const idx of Object.keys(members).sort((a, b) => Number(a) - Number(b))) {
    const e = members[idx];
    if (keyname in e && valuename in e) out[e[keyname]] = e[valuename];
  }
  return out;
}

/**
 * The checks Heat makes when it builds a function object (constructor-time): argument shapes, removed
 * functions. Throws TemplateError.
 */
export function checkStatic(v: VersionInfo, name: string, impl: FnImpl, args: unknown, path: Path): void {
  switch (impl) {
    case 'removed':
      throw invalidVersion(`The function ${name} is not supported in this version of HOT.`, path);
    case 'get_attr_then_select':
    case 'get_attr':
      if (!Array.isArray(args)) throw err(`Argument to "${name}" must be a list`, path);
      if (args.length < 2) {
        throw err(`Arguments to "${name}" must be of the form [resource_name, attribute, (path), ...]`, path);
      }
      return;
    case 'get_attr_all':
      if (!args || (Array.isArray(args) && args.length === 0)) {
        throw err(
          `Arguments to "${name}" can be of the next forms: [resource_name] or [resource_name, attribute, (path), ...]`,
          path,
        );
      }
      if (!Array.isArray(args)) throw err(`Argument to "${name}" must be a list`, path);
      return;
    case 'cfn_get_att':
      if (!Array.isArray(args) || args.length !== 2) {
        throw err(`Arguments to "${name}" must be of the form [resource_name, attribute]`, path);
      }
      return;
    case 'replace':
    case 'replace_json':
    case 'replace_json_strict':
    case 'replace_json_vstrict': {
      if (!isPlainObject(args)) throw err(`Arguments to "${name}" must be a map`, path);
      if (!('params' in args) || !('template' in args)) {
        throw err(
          `"${name}" syntax should be ${name}:\n              template: This is var1 template var2\n              params:\n                var1: a\n                var2: string`,
          path,
        );
      }
      if (!isPlainObject(args.params)) throw err(`"${name}" parameters must be a mapping`, path);
      return;
    }
    case 'cfn_replace': {
      const example = `{"${name}": [ {"$var1": "foo", "%var2%": "bar"}, "$var1 is %var2%"]}`;
      if (typeof args === 'string' || isPlainObject(args)) {
        throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
      }
      if (!Array.isArray(args) || args.length !== 2)
        throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
      if (!isPlainObject(args[0])) throw err(`"${name}" parameters must be a mapping`, path);
      return;
    }
    case 'join':
    case 'cfn_join': {
      const example = `"${name}" : [ " ", [ "str1", "str2"]]`;
      if (!Array.isArray(args)) throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
      if (args.length !== 2) throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
      return;
    }
    case 'join_multiple': {
      const example = `"${name}" : [ " ", [ "str1", "str2"] ...]`;
      if (!Array.isArray(args)) throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
      if (args.length < 2) throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
      return;
    }
    case 'repeat':
    case 'repeat_map':
    case 'repeat_nested': {
      if (!isPlainObject(args)) throw err(`Arguments to "${name}" must be a map`, path);
      if (!('for_each' in args) || !('template' in args)) {
        throw err(
          `"repeat" syntax should be repeat:\n              template: This is %var%\n              for_each:\n                %var%: ['a', 'b', 'c']`,
          path,
        );
      }
      if (impl === 'repeat_nested' && 'permutations' in args && typeof args.permutations !== 'boolean') {
        throw err(`"permutations" should be boolean type for ${name} function.`, path);
      }
      if (!fnLike(args.for_each) && !isPlainObject(args.for_each)) {
        throw err(`The "for_each" argument to "${name}" must contain a map`, path);
      }
      return;
    }
    case 'str_split':
    case 'cfn_split':
      if (typeof args === 'string' || isPlainObject(args)) {
        const example =
          impl === 'str_split' ? `"${name}" : [ ",", "apples,pears", <index>]` : `"${name}" : [ ",", "str1,str2"]]`;
        throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
      }
      if (impl === 'cfn_split' && (!Array.isArray(args) || args.length !== 2)) {
        throw err(`Incorrect arguments to "${name}" should be: "${name}" : [ ",", "str1,str2"]]`, path);
      }
      return;
    case 'yaql': {
      if (!isPlainObject(args)) throw err(`Arguments to "${name}" must be a map.`, path);
      if (!('expression' in args) || Object.keys(args).some((k) => k !== 'expression' && k !== 'data')) {
        throw err(
          `"${name}" syntax should be ${name}:\n              expression: $.data.var1.sum()\n              data:\n                var1: [3, 2, 1]`,
          path,
        );
      }
      if (typeof args.expression === 'string') {
        try {
          parseYaql(args.expression);
        } catch (e) {
          if (e instanceof YaqlError) throw err(`Bad expression ${e.message}.`, path);
          throw e;
        }
      } else if (!fnLike(args.expression)) {
        throw err(`The "expression" argument to ${name} must contain a string.`, path);
      }
      return;
    }
    case 'equals':
    case 'cfn_equals':
      if (!Array.isArray(args) || args.length !== 2) {
        throw err(`Arguments to "${name}" must be of the form: [value_1, value_2]`, path);
      }
      return;
    case 'if':
    case 'cfn_if':
      if (!Array.isArray(args) || args.length !== 3) {
        throw err(`Arguments to "${name}" must be of the form: [condition_name, value_if_true, value_if_false]`, path);
      }
      return;
    case 'if_nullable':
      if (!Array.isArray(args) || args.length < 2 || args.length > 3) {
        throw err(`Arguments to "${name}" must be of the form: [condition_name, value_if_true, value_if_false]`, path);
      }
      return;
    case 'not':
      if (args === null || args === undefined) throw err(`Argument to "${name}" must be a condition`, path);
      return;
    case 'cfn_not':
      if (!Array.isArray(args) || args.length !== 1)
        throw err(`Arguments to "${name}" must be of the form: [condition]`, path);
      return;
    case 'and':
    case 'or':
    case 'cfn_and':
    case 'cfn_or':
      if (!Array.isArray(args)) throw err(`Arguments to "${name}" must be a list of conditions`, path);
      if (args.length < 2) throw err(`The minimum number of condition arguments to "${name}" is 2.`, path);
      return;
    case 'filter':
      if (!Array.isArray(args)) throw err(`Argument to "${name}" must be a list`, path);
      if (args.length !== 2) {
        throw err(
          `"${name}" expected 2 arguments of the form [values, sequence] but got ${args.length} arguments instead`,
          path,
        );
      }
      return;
    case 'make_url':
      checkMakeUrlArgs(name, args, path);
      return;
    case 'contains': {
      const example = `"${name}" : [ "value1", [ "value1", "value2"]]`;
      if (!Array.isArray(args) || args.length === 0)
        throw err(`Incorrect arguments to "${name}" should be: ${example}`, path);
      if (args.length !== 2) throw err(`Arguments to "${name}" must be of the form: [value1, [value1, value2]]`, path);
      return;
    }
    case 'resource_facade':
    case 'cfn_resource_facade': {
      const allowed =
        impl === 'resource_facade'
          ? ['metadata', 'deletion_policy', 'update_policy']
          : ['Metadata', 'DeletionPolicy', 'UpdatePolicy'];
      if (typeof args !== 'string' || !allowed.includes(args)) {
        throw err(`Incorrect arguments to "${name}" should be one of: ${allowed.join(', ')}`, path);
      }
      return;
    }
    case 'cfn_select':
      if (!Array.isArray(args) || args.length !== 2)
        throw err(`Arguments to "${name}" must be of the form [index, collection]`, path);
      return;
    case 'cfn_find_in_map':
      if (!Array.isArray(args) || args.length !== 3) {
        throw err(`not enough values to unpack (expected 3, got ${Array.isArray(args) ? args.length : 1})`, path);
      }
      return;
    case 'cfn_member_list_to_map':
      if (!Array.isArray(args) || args.length !== 3) {
        throw err(
          `Wrong Arguments try: "\n            {'Fn::MemberListToMap': ['Name', 'Value',\n                                     ['.member.0.Name=key',\n                                      '.member.0.Value=door']]}\n            "`,
          path,
        );
      }
      if (typeof args[0] !== 'string') throw err(`${name} Key Name must be a string`, path);
      if (typeof args[1] !== 'string') throw err(`${name} Value Name must be a string`, path);
      return;
    default:
      return;
  }
}

function templateHooks(t: Template, ctx: ResolveContext): Hooks {
  const v = versionOf(t);
  const pseudoNames = v.kind === 'hot' ? PSEUDO_HOT : PSEUDO_CFN;
  return {
    hasParam: (n) => Object.hasOwn(ctx.params, n) || pseudoNames.includes(n),
    param: (n) => {
      if (Object.hasOwn(ctx.params, n)) return ctx.params[n];
      if (pseudoNames.includes(n)) return pseudo(ctx, n);
      throw new TemplateError(`The Parameter (${n}) was not provided.`, { type: 'UserParameterMissing' });
    },
    resource: (n, path) => {
      if (!Object.hasOwn(t.resources, n)) {
        throw new TemplateError(`The specified reference "${n}" (in unknown) is incorrect.`, {
          type: 'InvalidTemplateReference',
          path,
        });
      }
      return ctx.getResource(n);
    },
    attr: (n, a, p, path) => {
      if (!Object.hasOwn(t.resources, n)) {
        throw new TemplateError(`The specified reference "${n}" (in unknown) is incorrect.`, {
          type: 'InvalidTemplateReference',
          path,
        });
      }
      return ctx.getAttr(n, a, p);
    },
    file: (n) => ctx.getFile(n) ?? t.files[n],
    condition: (name, path) => {
      if (typeof name === 'boolean') return name;
      if (typeof name === 'string' && Object.hasOwn(ctx.conditions, name)) return ctx.conditions[name];
      throw err(`Invalid condition "${pyStr(name)}"`, path);
    },
    facade: (k) => {
      if (!ctx.resourceFacade) {
        return k === 'deletion_policy' ? 'Delete' : {};
      }
      return ctx.resourceFacade(k);
    },
    azs: () => (ctx.availabilityZones ? ctx.availabilityZones() : ['nova']),
  };
}

/** Resolves every intrinsic function of the template's version in `snippet`. */
export function resolve(snippet: unknown, t: Template, ctx: ResolveContext): unknown {
  const r = new Resolver(t, versionOf(t), templateHooks(t, ctx));
  const out = r.node(snippet, []);
  return out === OMIT ? null : out;
}

/**
 * The named conditions of the template evaluated with the given parameter values (Heat's Conditions):
 * each definition a boolean or a condition function; names may refer to other conditions.
 */
export function evaluateConditions(
  t: Template,
  params: Record<string, unknown>,
  stack: ResolveContext['stack'] = { id: '', name: '', projectId: '', region: '' },
): Record<string, boolean> {
  const v = versionOf(t);
  const defs = t.conditions ?? {};
  const condKey = v.kind === 'hot' ? 'conditions' : 'Conditions';
  const resolved: Record<string, boolean | 'pending'> = {};
  const pseudoNames = v.kind === 'hot' ? PSEUDO_HOT : PSEUDO_CFN;
  const ctx: ResolveContext = {
    params,
    conditions: {},
    getResource: () => null,
    getAttr: () => null,
    getFile: () => undefined,
    stack,
  };
  const hooks: Hooks = {
    hasParam: (n) => Object.hasOwn(params, n) || pseudoNames.includes(n),
    param: (n) => {
      if (Object.hasOwn(params, n)) return params[n];
      if (pseudoNames.includes(n)) return pseudo(ctx, n);
      throw new TemplateError(`The Parameter (${n}) was not provided.`, { type: 'UserParameterMissing' });
    },
    resource: () => null,
    attr: () => null,
    file: (n) => t.files[n],
    condition: (name, path) => enabled(name, path),
    facade: () => ({}),
    azs: () => ['nova'],
  };
  const r = new Resolver(t, v, hooks, true);
  const invalidDef = (name: string, def: unknown) =>
    new TemplateError(`The definition of condition "${name}" is invalid: ${pyStr(def)}`, {
      error: 'Condition validation error',
      path: [condKey, name],
    });
  function enabled(name: unknown, path: Path): boolean {
    if (name === null || name === undefined) return true;
    if (typeof name === 'boolean') return name;
    if (typeof name !== 'string' || !Object.hasOwn(defs, name)) throw err(`Invalid condition "${pyStr(name)}"`, path);
    const state = resolved[name];
    if (state === 'pending') {
      throw new TemplateError(`Circular definition for condition "${name}"`, {
        error: 'Condition validation error',
        path: [condKey, name],
      });
    }
    if (state !== undefined) return state;
    resolved[name] = 'pending';
    const def = defs[name];
    if (typeof def !== 'boolean' && fnKey(def, v.conditionFunctions) === null) {
      if (isPlainObject(def) && fnKey(def, v.functions) !== null) {
        const k = Object.keys(def)[0];
        throw err(`The function "${k}" is invalid in this context`, [condKey, name]);
      }
      throw invalidDef(name, def);
    }
    const value = r.node(def, [condKey, name]);
    if (typeof value !== 'boolean') throw invalidDef(name, value);
    resolved[name] = value;
    return value;
  }
  const out: Record<string, boolean> = {};
  for (const name of Object.keys(defs)) out[name] = enabled(name, [condKey, name]);
  return out;
}

/** Whether a resource (or output) with this `condition` field is enabled. */
export function conditionEnabled(
  t: Template,
  condition: unknown,
  conditions: Record<string, boolean>,
  path: Path = [],
): boolean {
  if (condition === undefined || condition === null) return true;
  if (typeof condition === 'boolean') return condition;
  if (typeof condition === 'string') {
    if (!Object.hasOwn(conditions, condition)) throw err(`Invalid condition "${condition}"`, path);
    return conditions[condition];
  }
  const v = versionOf(t);
  const hooks: Hooks = {
    hasParam: () => false,
    param: (n) => {
      throw new TemplateError(`The Parameter (${n}) was not provided.`, { type: 'UserParameterMissing' });
    },
    resource: () => null,
    attr: () => null,
    file: () => undefined,
    condition: (n, path) => {
      if (typeof n === 'boolean') return n;
      if (typeof n === 'string' && Object.hasOwn(conditions, n)) return conditions[n];
      throw err(`Invalid condition "${pyStr(n)}"`, path);
    },
    facade: () => ({}),
    azs: () => ['nova'],
  };
  const r = new Resolver(t, v, hooks, true);
  return r.cond(condition, path);
}

/** Whether an output is enabled by its condition (path outputs.<name>.condition in errors). */
export function outputEnabled(t: Template, name: string, conditions: Record<string, boolean>): boolean {
  const o = t.outputs[name];
  if (!o) return false;
  return conditionEnabled(t, o.condition, conditions, [
    t.kind === 'hot' ? 'outputs' : 'Outputs',
    name,
    t.kind === 'hot' ? 'condition' : 'Condition',
  ]);
}

/** The resource names referenced from a snippet by get_resource/get_attr/Ref/Fn::GetAtt, taking `if` branches. */
function references(
  t: Template,
  v: VersionInfo,
  snippet: unknown,
  conditions: Record<string, boolean> | null,
  out: Set<string>,
): void {
  if (Array.isArray(snippet)) {
    for (const x of snippet) references(t, v, x, conditions, out);
    return;
  }
  if (!isPlainObject(snippet)) return;
  const k = fnKey(snippet, v.functions);
  if (k === null) {
    for (const x of Object.values(snippet)) references(t, v, x, conditions, out);
    return;
  }
  const impl = v.functions[k];
  const args = snippet[k];
  switch (impl) {
    case 'get_resource':
      if (typeof args === 'string') out.add(args);
      else references(t, v, args, conditions, out);
      return;
    case 'cfn_ref':
      if (typeof args === 'string') {
        if (Object.hasOwn(t.resources, args)) out.add(args);
      } else references(t, v, args, conditions, out);
      return;
    case 'get_attr_then_select':
    case 'get_attr':
    case 'get_attr_all':
    case 'cfn_get_att':
      if (Array.isArray(args) && args.length > 0) {
        if (typeof args[0] === 'string') out.add(args[0]);
        references(t, v, args, conditions, out);
      }
      return;
    case 'if':
    case 'if_nullable':
    case 'cfn_if':
      if (Array.isArray(args) && conditions !== null) {
        let which: boolean | null = null;
        try {
          which = conditionEnabled(t, args[0], conditions);
        } catch {
          which = null;
        }
        if (which === null) references(t, v, args.slice(1), conditions, out);
        else if (which) references(t, v, args[1], conditions, out);
        else if (args.length > 2) references(t, v, args[2], conditions, out);
        return;
      }
      references(t, v, args, conditions, out);
      return;
    default:
      references(t, v, args, conditions, out);
  }
}

/** The resources enabled under the given condition values. */
export function enabledResources(t: Template, conditions: Record<string, boolean>): string[] {
  const hot = t.kind === 'hot';
  return Object.keys(t.resources).filter((n) =>
    conditionEnabled(t, t.resources[n].condition, conditions, [
      hot ? 'resources' : 'Resources',
      n,
      hot ? 'condition' : 'Condition',
    ]),
  );
}

/**
 * For each enabled resource, the enabled resources it depends on: depends_on plus the resources its
 * properties and metadata reference (get_resource, get_attr, Ref, Fn::GetAtt). References to resources
 * disabled by a condition are dropped; to unknown ones, Heat's InvalidTemplateReference.
 */
export function dependencies(t: Template, conditions: Record<string, boolean>): Record<string, string[]> {
  const v = versionOf(t);
  const enabled = new Set(enabledResources(t, conditions));
  const out: Record<string, string[]> = {};
  for (const name of Object.keys(t.resources)) {
    if (!enabled.has(name)) continue;
    const r = t.resources[name];
    const deps = new Set<string>();
    if (r.external_id === undefined || r.external_id === null) {
      for (const d of r.depends_on) {
        if (!Object.hasOwn(t.resources, d)) {
          throw new TemplateError(`The specified reference "${d}" (in ${name}) is incorrect.`, {
            type: 'InvalidTemplateReference',
          });
        }
        if (enabled.has(d)) deps.add(d);
      }
      for (const [section, snippet] of [
        ['Properties', r.properties],
        ['Metadata', r.metadata],
      ] as Array<[string, unknown]>) {
        const refs = new Set<string>();
        references(t, v, snippet, conditions, refs);
        for (const d of refs) {
          if (!Object.hasOwn(t.resources, d)) {
            throw new TemplateError(`The specified reference "${d}" (in ${name}.${section}) is incorrect.`, {
              type: 'InvalidTemplateReference',
            });
          }
          if (enabled.has(d)) deps.add(d);
        }
      }
    }
    out[name] = [...deps];
  }
  return out;
}

/** The resources an output's value references (to know which are needed to show it). */
export function outputReferences(t: Template, name: string, conditions: Record<string, boolean>): string[] {
  const refs = new Set<string>();
  references(t, versionOf(t), t.outputs[name]?.value, conditions, refs);
  return [...refs];
}

/** Heat's validation of every function in the template's sections, at parse time. */
export function checkFunctions(t: Template): void {
  const v = versionOf(t);
  const hot = v.kind === 'hot';
  const walk = (x: unknown, path: Path, table: Record<string, FnImpl>, inCondition: boolean): void => {
    if (Array.isArray(x)) {
      x.forEach((e, i) => walk(e, [...path, i], table, inCondition));
      return;
    }
    if (!isPlainObject(x)) return;
    const keys = Object.keys(x);
    if (keys.length === 1) {
      const k = keys[0];
      if (Object.hasOwn(table, k)) {
        const impl = table[k];
        checkStatic(v, k, impl, x[k], [...path, k]);
        if (
          (impl === 'get_resource' ||
            impl === 'get_attr' ||
            impl === 'get_attr_all' ||
            impl === 'get_attr_then_select' ||
            impl === 'cfn_get_att') &&
          !inCondition
        ) {
          const target = impl === 'get_resource' ? x[k] : (x[k] as unknown[])[0];
          if (typeof target === 'string' && !Object.hasOwn(t.resources, target)) {
            const section = String(path[2] ?? '').toLowerCase();
            const key =
              (path[0] === 'resources' || path[0] === 'Resources') &&
              (section === 'properties' || section === 'metadata')
                ? `${path[1]}.${section === 'properties' ? 'Properties' : 'Metadata'}`
                : 'unknown';
            throw new TemplateError(`The specified reference "${target}" (in ${key}) is incorrect.`, {
              type: 'InvalidTemplateReference',
              path,
            });
          }
        }
        walk(x[k], [...path, k], table, inCondition);
        return;
      }
      if (inCondition && Object.hasOwn(v.functions, k) && v.functions[k] !== 'removed') {
        throw err(`The function "${k}" is invalid in this context`, [...path, k]);
      }
    }
    for (const k of keys) walk(x[k], [...path, k], table, inCondition);
  };
  const resKey = hot ? 'resources' : 'Resources';
  for (const [name, r] of Object.entries(t.resources)) {
    const base = [resKey, name];
    walk(r.properties, [...base, hot ? 'properties' : 'Properties'], v.functions, false);
    walk(r.metadata, [...base, hot ? 'metadata' : 'Metadata'], v.functions, false);
    walk(r.update_policy, [...base, hot ? 'update_policy' : 'UpdatePolicy'], v.functions, false);
    walk(r.deletion_policy, [...base, hot ? 'deletion_policy' : 'DeletionPolicy'], v.functions, false);
    if (r.external_id !== undefined) walk(r.external_id, [...base, 'external_id'], v.functions, false);
    if (isPlainObject(r.condition))
      walk(r.condition, [...base, hot ? 'condition' : 'Condition'], v.conditionFunctions, true);
  }
  const outKey = hot ? 'outputs' : 'Outputs';
  for (const [name, o] of Object.entries(t.outputs)) {
    walk(o.value, [outKey, name, hot ? 'value' : 'Value'], v.functions, false);
    if (isPlainObject(o.condition)) walk(o.condition, [outKey, name, 'condition'], v.conditionFunctions, true);
  }
  const condKey = hot ? 'conditions' : 'Conditions';
  for (const [name, c] of Object.entries(t.conditions)) {
    walk(c, [condKey, name], v.conditionFunctions, true);
  }
}

/**
 * Every get_attr / Fn::GetAtt with a literal resource and attribute name, with where it is, so the
 * engine can check attributes against the resource types (Heat's InvalidTemplateAttribute:
 * `The Referenced Attribute (res attr) is incorrect.`).
 */
export function attributeReferences(t: Template): Array<{ resource: string; attribute: string; path: Path }> {
  const v = versionOf(t);
  const hot = v.kind === 'hot';
  const out: Array<{ resource: string; attribute: string; path: Path }> = [];
  const walk = (x: unknown, path: Path): void => {
    if (Array.isArray(x)) {
      x.forEach((e, i) => walk(e, [...path, i]));
      return;
    }
    if (!isPlainObject(x)) return;
    const k = fnKey(x, v.functions);
    if (k !== null) {
      const impl = v.functions[k];
      const args = x[k];
      if (
        (impl === 'get_attr' || impl === 'get_attr_all' || impl === 'get_attr_then_select' || impl === 'cfn_get_att') &&
        Array.isArray(args) &&
        typeof args[0] === 'string' &&
        typeof args[1] === 'string'
      ) {
        out.push({ resource: args[0], attribute: args[1], path: [...path, k] });
      }
      walk(args, [...path, k]);
      return;
    }
    for (const [key, val] of Object.entries(x)) walk(val, [...path, key]);
  };
  for (const [name, r] of Object.entries(t.resources)) {
    walk(r.properties, [hot ? 'resources' : 'Resources', name, hot ? 'properties' : 'Properties']);
    walk(r.metadata, [hot ? 'resources' : 'Resources', name, hot ? 'metadata' : 'Metadata']);
  }
  for (const [name, o] of Object.entries(t.outputs))
    walk(o.value, [hot ? 'outputs' : 'Outputs', name, hot ? 'value' : 'Value']);
  return out;
}

/** Heat's InvalidTemplateAttribute. */
export function invalidAttribute(resource: string, attribute: string, path: Path = []): TemplateError {
  return new TemplateError(`The Referenced Attribute (${resource} ${attribute}) is incorrect.`, {
    type: 'InvalidTemplateAttribute',
    path,
  });
}

/**
 * One output as Heat shows it (format_stack_outputs): its value resolved, or the error text Heat puts
 * in output_error; a disabled output (condition false) has the value null.
 */
export function resolveOutput(
  t: Template,
  name: string,
  ctx: ResolveContext,
): { output_key: string; description: string; output_value: unknown; output_error?: string } {
  const o = t.outputs[name];
  const out: { output_key: string; description: string; output_value: unknown; output_error?: string } = {
    output_key: name,
    description: o?.description ?? 'No description given',
    output_value: null,
  };
  if (!o) return out;
  try {
    if (!outputEnabled(t, name, ctx.conditions)) return out;
    out.output_value = resolve(o.value, t, ctx);
  } catch (e) {
    out.output_error = e instanceof TemplateError ? e.reason : (e as Error).message;
  }
  return out;
}

/** A resource's definition with its properties, metadata and policies resolved. */
export function resolveResource(
  t: Template,
  name: string,
  ctx: ResolveContext,
): {
  type: string;
  properties: Record<string, unknown>;
  metadata: Record<string, unknown>;
  deletion_policy: string;
  update_policy: Record<string, unknown>;
  external_id: string | null;
} {
  const r = t.resources[name];
  if (!r) {
    throw new TemplateError(`The specified reference "${name}" (in unknown) is incorrect.`, {
      type: 'InvalidTemplateReference',
    });
  }
  const hot = t.kind === 'hot';
  const base = [hot ? 'resources' : 'Resources', name];
  const wrap = <T>(f: () => T, section: string): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof TemplateError && e.type === 'StackValidationFailed') throw e.within([...base, section]);
      throw e;
    }
  };
  const props = wrap(() => resolve(r.properties, t, ctx), hot ? 'properties' : 'Properties');
  const meta = wrap(() => resolve(r.metadata, t, ctx), hot ? 'metadata' : 'Metadata');
  let dp = wrap(() => resolve(r.deletion_policy, t, ctx), hot ? 'deletion_policy' : 'DeletionPolicy');
  if (typeof dp === 'string') dp = dp.charAt(0).toUpperCase() + dp.slice(1);
  if (dp !== 'Delete' && dp !== 'Retain' && dp !== 'Snapshot') {
    throw new TemplateError(`Invalid deletion policy "${pyStr(dp)}"`, { path: [...base] });
  }
  const up = wrap(() => resolve(r.update_policy, t, ctx), hot ? 'update_policy' : 'UpdatePolicy');
  const ext = r.external_id === undefined ? null : wrap(() => resolve(r.external_id, t, ctx), 'external_id');
  return {
    type: r.type,
    properties: isPlainObject(props) ? props : {},
    metadata: isPlainObject(meta) ? meta : {},
    deletion_policy: dp as string,
    update_policy: isPlainObject(up) ? up : {},
    external_id: ext === null || ext === undefined ? null : pyStr(ext),
  };
}

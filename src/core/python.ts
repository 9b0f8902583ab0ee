// Python's str() and repr() of JSON values, for the texts where OpenStack (Python) prints what the client
// sent or what a rule compares: policy checks compare str() values, error messages quote repr().

/** A JSON object (Python dict), not an array or null. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Python repr() of a float. */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  // toExponential() without an argument yields the shortest round-trip
  // digits, exactly like Python's repr.
  const expStr = n.toExponential();
  const eIdx = expStr.indexOf('e');
  let mantissa = expStr.slice(0, eIdx);
  const exp = Number(expStr.slice(eIdx + 1));
  let sign = '';
  if (mantissa.startsWith('-')) {
    sign = '-';
    mantissa = mantissa.slice(1);
  }
  const digits = mantissa.replace('.', '');
  if (exp >= -4 && exp < 16) {
    let out: string;
    if (exp < 0) {
      out = '0.' + '0'.repeat(-exp - 1) + digits;
    } else if (digits.length <= exp + 1) {
      out = digits + '0'.repeat(exp + 1 - digits.length) + '.0';
    } else {
      out = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
    }
    return sign + out;
  }
  const absExp = Math.abs(exp);
  return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${absExp < 10 ? '0' : ''}${absExp}`;
}

export function pyNumberStr(n: number): string {
  // JSON / JS cannot tell 1 from 1.0; integral values are treated as ints.
  if (Number.isInteger(n)) return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
  return pyFloatRepr(n);
}

/** Python repr() of a str. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += '\\x' + code.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
}

/** Python repr() of a JSON value. */
export function pyRepr(v: unknown): string {
  return typeof v === 'string' ? pyStrRepr(v) : pyStr(v);
}

/** Python str() of a JSON-ish value, as oslo compares everything as str. */
export function pyStr(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'boolean':
      return v ? 'True' : 'False';
    case 'number':
      return pyNumberStr(v);
    case 'bigint':
      return v.toString();
    case 'undefined':
      return 'None';
    case 'object': {
      if (v === null) return 'None';
      if (Array.isArray(v)) return '[' + v.map(pyRepr).join(', ') + ']';
      if (v instanceof Date) return v.toISOString();
      const parts: string[] = [];
      for (const [k, val] of Object.entries(v)) parts.push(`${pyStrRepr(k)}: ${pyRepr(val)}`);
      return '{' + parts.join(', ') + '}';
    }
    default:
      return String(v);
  }
}

/** Python truthiness. */
export function pyTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

/**
 * Python's fnmatch.fnmatchcase (fnmatch.translate): `*`, `?`, `[seq]` and `[!seq]`; a `[` with no closing `]` is
 * itself; everything else matches literally. The patterns OpenStack's yaml files and Heat's registry use.
 */
export function fnmatch(pattern: string, name: string): boolean {
  let re = fnmatchCache.get(pattern);
  if (!re) {
    if (fnmatchCache.size >= 1024) fnmatchCache.clear();
    re = fnmatchTranslate(pattern);
    fnmatchCache.set(pattern, re);
  }
  return re.test(name);
}

const fnmatchCache = new Map<string, RegExp>();

function fnmatchTranslate(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i++];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) re += '\\[';
      else {
        let set = pattern.slice(i, j).replace(/[\\\]]/g, '\\$&');
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        else if (set.startsWith('^')) set = `\\${set}`;
        re += `[${set}]`;
        i = j + 1;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  try {
    return new RegExp(`^(?:${re})$`, 's');
  } catch {
    return /(?!)/; // a reversed range such as [z-a]: Python drops it, and the pattern matches nothing here
  }
}

/** A Python `re` pattern as a JS RegExp: named groups `(?P<n>…)` and `(?P=n)`, `\\A` and `\\Z` translated. */
export function pyRegex(pattern: string, flags = ''): RegExp {
  const js = pattern
    .replace(/\(\?P</g, '(?<')
    .replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
    .replace(/\\A/g, '^')
    .replace(/\\Z/g, '$');
  return new RegExp(js, flags);
}

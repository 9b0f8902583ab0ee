// YAQL tokens (yaql/language/lexer.py): numbers, quoted strings, keyword strings, $variables, operators.
import { YaqlError } from './errors.ts';

export type TokenKind = 'num' | 'str' | 'kw' | 'var' | 'op' | 'eof';
export interface Token {
  kind: TokenKind;
  value: string;
  num?: number;
  pos: number;
}

const OPS = [
  '->',
  '=>',
  '=~',
  '!~',
  '!=',
  '>=',
  '<=',
  '?.',
  '>',
  '<',
  '=',
  '+',
  '-',
  '*',
  '/',
  '.',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
];
export const WORD_OPS = new Set(['and', 'or', 'not', 'in', 'mod']);

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9]/.test(c)) {
      const m = /^(\d+\.\d+([eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+)/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ kind: 'num', value: m[0], num: Number(m[0]), pos: start });
      i += m[0].length;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && c === '`' && src[j + 1] === '`') {
          s += '`';
          j += 2;
          continue;
        }
        if (src[j] === '\\' && c !== '`' && j + 1 < src.length) {
          const e = src[j + 1];
          const map: Record<string, string> = {
            n: '\n',
            t: '\t',
            r: '\r',
            '\\': '\\',
            "'": "'",
            '"': '"',
            '0': '\0',
            b: '\b',
            f: '\f',
          };
          if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(j + 2, j + 6))) {
            s += String.fromCharCode(Number.parseInt(src.slice(j + 2, j + 6), 16));
            j += 6;
            continue;
          }
          s += map[e] ?? `\\${e}`;
          j += 2;
          continue;
        }
        s += src[j];
        j++;
      }
      if (j >= src.length) throw new YaqlError(`Lexical error: illegal character '${c}' at position ${start}`);
      out.push({ kind: 'str', value: s, pos: start });
      i = j + 1;
      continue;
    }
    if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ kind: 'var', value: m[0], pos: start });
      i += m[0].length;
      continue;
    }
    if (c === '#' && src.startsWith('#operator_', i)) {
      const m = /^#\w+\S*?(?=\()/.exec(src.slice(i));
      if (m) {
        out.push({ kind: 'kw', value: m[0], pos: start });
        i += m[0].length;
        continue;
      }
    }
    if (/[\p{L}_]/u.test(c)) {
      const m = /^[\p{L}_][\p{L}\p{N}_]*/u.exec(src.slice(i)) as RegExpExecArray;
      const w = m[0];
      out.push({ kind: WORD_OPS.has(w) ? 'op' : 'kw', value: w, pos: start });
      i += w.length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new YaqlError(`Lexical error: illegal character '${c}' at position ${start}`);
    out.push({ kind: 'op', value: op, pos: start });
    i += op.length;
  }
  out.push({ kind: 'eof', value: '', pos: src.length });
  return out;
}

// YAQL: the parser, operators and standard library, on the examples of the YAQL language reference.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { YaqlError, evaluateYaql, parseYaql } from '../src/core/yaql/index.ts';
import { YAQL_REFERENCE_EXAMPLES } from './lib/yaql-examples.ts';

const y = (e: string, data: unknown = null) => evaluateYaql(e, data);

describe('yaql', () => {
  it('literals, data access and operators', () => {
    assert.equal(y('1 + 2 * 3'), 7);
    assert.equal(y('(1 + 2) * 3'), 9);
    assert.equal(y('7 / 2'), 3);
    assert.equal(y('7.5 / 2'), 3.75);
    assert.equal(y('7 mod 3'), 1);
    assert.equal(y('-2 + 5'), 3);
    assert.equal(y("'a' + 'b'"), 'ab');
    assert.deepEqual(y('[1, 2] + [3]'), [1, 2, 3]);
    assert.deepEqual(y('{a => 1, b => [2]}'), { a: 1, b: [2] });
    assert.equal(y('$.a.b', { a: { b: 5 } }), 5);
    assert.equal(y('$.a.zz', { a: { b: 5 } }), null);
    assert.equal(y('$[1]', [4, 5, 6]), 5);
    assert.equal(y('$[-1]', [4, 5, 6]), 6);
    assert.equal(y("$['k']", { k: 'v' }), 'v');
    assert.equal(y('$.a?.b', { a: null }), null);
    assert.equal(y('true and not false'), true);
    assert.equal(y('null or 3'), 3);
    assert.equal(y('2 in [1, 2]'), true);
    assert.equal(y("'b' in 'abc'"), true);
    assert.equal(y('1 < 2 and 2 >= 2 and 1 != 2 and 3 = 3'), true);
    assert.equal(y("'abc' =~ '^a'"), true);
    assert.equal(y("'abc' !~ 'z'"), true);
    assert.equal(y('$', 'x'), 'x');
  });

  it('queries with lambdas', () => {
    const d = [1, 2, 3, 4];
    assert.deepEqual(y('$.where($ > 2)', d), [3, 4]);
    assert.deepEqual(y('$.select($ * $)', d), [1, 4, 9, 16]);
    assert.deepEqual(y('$.where($ mod 2 = 0).select($ + 1)', d), [3, 5]);
    assert.deepEqual(y('$.selectMany([$, $])', [1, 2]), [1, 1, 2, 2]);
    assert.equal(y('$.len()', d), 4);
    assert.equal(y('len($)', d), 4);
    assert.equal(y('$.sum()', d), 10);
    assert.equal(y('$.max()', d), 4);
    assert.equal(y('$.min()', d), 1);
    assert.equal(y('max(3, 8)'), 8);
    assert.deepEqual(y('$.distinct()', [1, 1, 2]), [1, 2]);
    assert.deepEqual(y('$.toSet()', [1, 1, 2]), [1, 2]);
    assert.equal(y('$.first()', d), 1);
    assert.equal(y('[].first(7)'), 7);
    assert.equal(y('$.last()', d), 4);
    assert.equal(y('$.any($ > 3)', d), true);
    assert.equal(y('$.all($ > 3)', d), false);
    assert.deepEqual(y('$.orderBy(-$)', d), [4, 3, 2, 1]);
    assert.deepEqual(y('$.orderByDescending($)', d), [4, 3, 2, 1]);
    assert.deepEqual(y('$.skip(1).take(2)', d), [2, 3]);
    assert.deepEqual(y('$.groupBy($ mod 2)', d), [
      [1, [1, 3]],
      [0, [2, 4]],
    ]);
    assert.deepEqual(
      y('$.groupBy($.k, $.v, [$[0], $[1].sum()])', [
        { k: 'a', v: 1 },
        { k: 'a', v: 2 },
        { k: 'b', v: 3 },
      ]),
      [
        ['a', 3],
        ['b', 3],
      ],
    );
    assert.deepEqual(y('range(3)'), [0, 1, 2]);
    assert.deepEqual(y('range(1, 10, 4)'), [1, 5, 9]);
    assert.deepEqual(y('[1, [2, [3]]].flatten()'), [1, 2, 3]);
    assert.deepEqual(y('$.where($.n > 1).n', [{ n: 1 }, { n: 2 }, { n: 3 }]), [2, 3]);
    assert.deepEqual(y('$[$ > 2]', d), [3, 4]);
    assert.equal(y('$.aggregate($1 + $2)', d), 10);
    assert.deepEqual(y('$.enumerate()', ['a']), [[0, 'a']]);
    assert.deepEqual(y('concat([1], [2], [3])'), [1, 2, 3]);
    assert.equal(y('$.contains(3)', d), true);
  });

  it('dictionaries', () => {
    const d = { a: 1, b: 2 };
    assert.deepEqual(y('$.keys()', d), ['a', 'b']);
    assert.deepEqual(y('$.values()', d), [1, 2]);
    assert.deepEqual(y('$.items()', d), [
      ['a', 1],
      ['b', 2],
    ]);
    assert.equal(y("$.get('c', 9)", d), 9);
    assert.deepEqual(y("$.set('c', 3)", d), { a: 1, b: 2, c: 3 });
    assert.deepEqual(y("$.delete('a')", d), { b: 2 });
    assert.deepEqual(y('dict(x => 1, y => 2)'), { x: 1, y: 2 });
    assert.deepEqual(y('dict([[a, 1], [b, 2]])'), { a: 1, b: 2 });
    assert.deepEqual(y('$.toDict($.n, $.v)', [{ n: 'k', v: 1 }]), { k: 1 });
    assert.deepEqual(y('$.items().where($[1] > 1).select($[0])', d), ['b']);
    assert.deepEqual(y('{a => {b => 1}}.mergeWith({a => {c => 2}})'), { a: { b: 1, c: 2 } });
    assert.deepEqual(y('$ + {c => 3}', d), { a: 1, b: 2, c: 3 });
  });

  it('strings and regex', () => {
    assert.deepEqual(y("'a,b,c'.split(',')"), ['a', 'b', 'c']);
    assert.deepEqual(y("'a b  c'.split()"), ['a', 'b', 'c']);
    assert.equal(y("'abc'.replace('b', 'X')"), 'aXc');
    assert.equal(y("'{0}-{1}'.format(1, 'x')"), '1-x');
    assert.equal(y("format('{}:{}', a, 2)"), 'a:2');
    assert.equal(y("'AbC'.toUpper()"), 'ABC');
    assert.equal(y("'AbC'.toLower()"), 'abc');
    assert.equal(y("'  x '.trim()"), 'x');
    assert.equal(y("'abc'.startsWith('a')"), true);
    assert.equal(y("'abc'.endsWith('bc')"), true);
    assert.equal(y("'abcdef'.substring(2, 3)"), 'cde');
    assert.equal(y("['a', 'b'].join('-')"), 'a-b');
    assert.equal(y("'-'.join(['a', 'b'])"), 'a-b');
    assert.equal(y('str(12)'), '12');
    assert.equal(y('int("42") + 1'), 43);
    assert.equal(y("regex('a.c').matches('abc')"), true);
    assert.equal(y("'abc'.matches('^a')"), true);
    assert.equal(y("regex('(\\d+)').replace('a1b22', 'N')"), 'aNbN');
    assert.deepEqual(y("regex('\\d').searchAll('a1b2')"), ['1', '2']);
    assert.equal(y("'ab'.len()"), 2);
  });

  it('let, ->, switch, coalesce', () => {
    assert.equal(y('let(x => 2, y => 3) -> $x * $y'), 6);
    assert.equal(y('let(a => $.v) -> $a + 1', { v: 4 }), 5);
    assert.equal(y('[1, 2] -> $.len()'), 2);
    assert.equal(y("switch($ > 5 => 'big', true => 'small')", 3), 'small');
    assert.equal(y('coalesce(null, 2, 3)'), 2);
    assert.equal(y('selectCase($ > 10, $ > 2, true)', 5), 1);
    assert.deepEqual(y('selectAllCases($ > 10, $ > 2, true)', 5), [1, 2]);
    assert.deepEqual(y("selectCase($ > 10, $ > 2).switchCase('big', 'mid', 'small')", 5), 'mid');
    assert.deepEqual(y("selectCase($ > 10, $ > 2).switchCase('big', 'mid', 'small')", 1), 'small');
  });

  it('the Heat yaql examples', () => {
    assert.equal(y('$.data.var1.sum()', { data: { var1: [3, 2, 1] } }), 6);
    assert.deepEqual(
      y('$.data.servers.where($.status = ACTIVE).select($.name)', {
        data: {
          servers: [
            { name: 'a', status: 'ACTIVE' },
            { name: 'b', status: 'ERROR' },
          ],
        },
      }),
      ['a'],
    );
    assert.deepEqual(y("dict($.data.list.select([$, $ + '-x']))", { data: { list: ['a'] } }), { a: 'a-x' });
  });

  it('takes variables and extra functions (workflows)', () => {
    const fns = { task: (args: unknown[]) => ({ name: args[0], result: 42 }), env: () => ({ region: 'r1' }) };
    assert.equal(evaluateYaql("task('t1').result + $x", null, { x: 1 }, fns), 43);
    assert.equal(evaluateYaql('env().region', null, {}, fns), 'r1');
    assert.equal(evaluateYaql("'t2'.task().name", null, {}, fns), 't2');
  });

  it('reports errors', () => {
    assert.throws(() => parseYaql('$.a.('), YaqlError);
    assert.throws(() => parseYaql('1 +'), /Parse error/);
    assert.throws(() => parseYaql('1 ^ 2'), /Lexical error: illegal character '\^' at position 2/);
    assert.throws(() => y('nosuch(1)'), /Unknown function "nosuch"/);
    assert.throws(() => y('$.nosuch()', [1]), /No method "nosuch"/);
  });
});

describe('yaql language reference examples', () => {
  it('evaluates every example as documented', () => {
    const norm = (x: unknown): string =>
      JSON.stringify(x, (_k, v) =>
        v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v,
      );
    const failures: string[] = [];
    for (const [expr, data, expected] of YAQL_REFERENCE_EXAMPLES) {
      try {
        const got = evaluateYaql(expr, data);
        if (norm(got) !== norm(expected)) {
          failures.push(`${expr} => ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
        }
      } catch (e) {
        failures.push(`${expr} threw ${(e as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(YAQL_REFERENCE_EXAMPLES.length > 200);
  });
});

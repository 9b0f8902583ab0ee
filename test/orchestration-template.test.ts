// Heat's template language: parsing, parameters, functions per version, conditions, dependencies,
// environments, with Heat's messages. Pure functions, no cloud.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Environment,
  type ResolveContext,
  type Template,
  TemplateError,
  apiFormatMessage,
  attributeReferences,
  dependencies,
  emptyEnvironment,
  evaluateConditions,
  mergeEnvironments,
  mergeEnvironmentFiles,
  nestedParametersView,
  outputEnabled,
  parameterView,
  parseEnvironment,
  parseTemplate,
  resolve,
  resolveOutput,
  resolveParameters,
  resolveResource,
  resolveResourceType,
  resourceHooks,
  stackParametersView,
  validateTemplateView,
  findVersion,
  templateFunctions,
  templateVersions,
} from '../src/orchestration/template/index.ts';

function ctxFor(t: Template, params: Record<string, unknown>, extra: Partial<ResolveContext> = {}): ResolveContext {
  return {
    params,
    conditions: evaluateConditions(t, params),
    getResource: (n) => `${n}-id`,
    getAttr: (n, a, p) => ({ n, a, p }),
    getFile: () => undefined,
    stack: { id: 'sid', name: 'sname', projectId: 'pid', region: 'RegionOne' },
    ...extra,
  };
}

function fails(fn: () => unknown, message: string | RegExp, type?: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TemplateError, `not a TemplateError: ${e}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    if (type) assert.equal(e.type, type);
    return;
  }
  assert.fail(`no error, expected ${message}`);
}

async function rejects(p: Promise<unknown>, message: string | RegExp, type?: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TemplateError, `not a TemplateError: ${e}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    if (type) assert.equal(e.type, type);
    return;
  }
  assert.fail(`no error, expected ${message}`);
}

/** Resolves one snippet in a template of the given version. */
function ev(
  version: string,
  snippet: unknown,
  params: Record<string, unknown> = {},
  files: Record<string, string> = {},
) {
  const t = parseTemplate(
    {
      heat_template_version: version,
      parameters: Object.fromEntries(Object.keys(params).map((k) => [k, { type: 'json' }])),
      resources: { r: { type: 'OS::Heat::None' } },
      outputs: { o: { value: snippet } },
    },
    files,
  );
  return resolve(t.outputs.o.value, t, ctxFor(t, params));
}

describe('parseTemplate', () => {
  it('parses HOT with sections and keeps dates as strings', () => {
    const t = parseTemplate(`
heat_template_version: 2013-05-23
description: d
parameters:
  p: {type: string, default: x, hidden: true, label: L}
resources:
  a:
    type: OS::Heat::RandomString
    properties: {length: 4}
    depends_on: b
    deletion_policy: Retain
  b: {type: OS::Heat::None}
outputs:
  o: {value: 1, description: od}
`);
    assert.equal(t.version, '2013-05-23');
    assert.equal(t.kind, 'hot');
    assert.equal(t.description, 'd');
    assert.deepEqual(t.resources.a.depends_on, ['b']);
    assert.equal(t.resources.a.deletion_policy, 'Retain');
    assert.equal(t.resources.b.deletion_policy, 'Delete');
    assert.equal(t.parameters.p.hidden, true);
    assert.deepEqual(t.outputs.o, { value: 1, description: 'od' });
    assert.equal(t.raw.heat_template_version, '2013-05-23');
  });

  it('accepts aliases and JSON', () => {
    assert.equal(parseTemplate('heat_template_version: wallaby\n').version, '2021-04-16');
    const t = parseTemplate(
      '{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"a": {"Type": "AWS::EC2::Instance"}}}',
    );
    assert.equal(t.version, 'cfn:2010-09-09');
    assert.equal(t.kind, 'cfn');
    assert.equal(t.resources.a.type, 'AWS::EC2::Instance');
  });

  it('gives Heat messages for bad templates', () => {
    fails(
      () => parseTemplate('heat_template_version: invalid\n'),
      /^The template version is invalid: "heat_template_version: invalid". "heat_template_version" should be one of: 2013-05-23, /,
      'InvalidTemplateVersion',
    );
    fails(() => parseTemplate('foo: bar\n'), 'Template format version not found.');
    fails(() => parseTemplate('- a\n'), 'The template is not a JSON object or YAML mapping.');
    fails(() => parseTemplate('heat_template_version: 2015-04-30\nfoo: 1\n'), 'The template section is invalid: foo');
    fails(
      () => parseTemplate('heat_template_version: 2015-04-30\n  x: [\n'),
      /^Error parsing template \[root stack\] /,
    );
    fails(
      () =>
        parseTemplate('heat_template_version: 2015-04-30\nresources:\n  r:\n    type: X\n    properties: &p {a: *p}\n'),
      'Error parsing template [root stack] recursive aliases are not supported',
    );
    fails(
      () => parseTemplate('heat_template_version: 2015-04-30\nresources:\n  a: {properties: {}}\n'),
      'Each resource must contain a type key.',
    );
    fails(
      () => parseTemplate('heat_template_version: 2015-04-30\nresources:\n  a: {type: X, foo: 1}\n'),
      '"foo" is not a valid keyword inside a resource definition',
    );
    fails(
      () => parseTemplate('heat_template_version: 2015-04-30\nresources:\n  a: {type: X, deletion_policy: Keep}\n'),
      'Invalid deletion policy "Keep"',
    );
    fails(
      () => parseTemplate('heat_template_version: 2015-04-30\nresources:\n  a: {type: X, properties: {v: {Ref: b}}}\n'),
      'The template version is invalid: The function Ref is not supported in this version of HOT.',
    );
    fails(
      () =>
        parseTemplate(
          'heat_template_version: 2015-04-30\nresources:\n  a: {type: X, properties: {v: {get_resource: zz}}}\n',
        ),
      'The specified reference "zz" (in a.Properties) is incorrect.',
    );
    fails(
      () => parseTemplate('heat_template_version: 2015-04-30\noutputs:\n  o: {description: x}\n'),
      'Each output must contain a value key.',
    );
    fails(
      () => parseTemplate('heat_template_version: 2015-04-30\nparameters:\n  p: {default: 1}\n'),
      'Missing parameter type for parameter: p',
    );
    fails(
      () => parseTemplate('heat_template_version: 2015-04-30\nparameters:\n  p: {type: string, foo: 1}\n'),
      "Invalid key 'foo' for parameter (p)",
    );
    fails(
      () => parseTemplate('heat_template_version: 2015-04-30\nparameters:\n  p: {type: str}\n'),
      'Invalid type (str)',
    );
  });

  it('checks function arguments when parsing', () => {
    const bad = (snippet: string, msg: string | RegExp, version = '2018-08-31') =>
      fails(
        () =>
          parseTemplate(
            `heat_template_version: ${version}\nresources:\n  r: {type: X}\noutputs:\n  o:\n    value: ${snippet}\n`,
          ),
        msg,
      );
    bad('{get_attr: r}', 'outputs.o.value.get_attr: Argument to "get_attr" must be a list');
    bad('{str_replace: [a]}', 'outputs.o.value.str_replace: Arguments to "str_replace" must be a map');
    bad('{list_join: [","]}', /Incorrect arguments to "list_join" should be/);
    bad('{if: [c, 1, 2, 3]}', /Arguments to "if" must be of the form/);
    bad(
      '{filter: [1, 2, 3]}',
      /"filter" expected 2 arguments of the form \[values, sequence\] but got 3 arguments instead/,
    );
    bad('{yaql: {expression: "$.a.(", data: {}}}', /Bad expression Parse error/);
    bad('{make_url: {foo: bar}}', /Invalid arguments to "make_url": foo/);
    bad('{Fn::Select: [0, [1]]}', /The function Fn::Select is not supported in this version of HOT/, '2015-10-15');
  });
});

describe('parameters', () => {
  const t = parseTemplate(`
heat_template_version: 2017-02-24
parameters:
  s:
    type: string
    default: abc
    constraints:
      - length: {min: 2, max: 5}
      - allowed_pattern: "[a-z]+"
  n:
    type: number
    default: 4
    constraints:
      - range: {min: 1, max: 10}
      - modulo: {step: 2, offset: 0}
  b: {type: boolean, default: "yes"}
  l: {type: comma_delimited_list, default: "x,y"}
  j: {type: json, default: {a: 1}}
  a:
    type: string
    default: one
    constraints: [{allowed_values: [one, two], description: pick one or two}]
  c:
    type: string
    default: img
    constraints: [{custom_constraint: glance.image}]
`);
  const env = emptyEnvironment();

  it('applies defaults and types', async () => {
    const p = await resolveParameters(t, env, {});
    assert.deepEqual(p, { s: 'abc', n: 4, b: true, l: ['x', 'y'], j: { a: 1 }, a: 'one', c: 'img' });
    const q = await resolveParameters(t, { ...env, parameter_defaults: { n: 6 } }, { b: 'false', l: 'p,q', j: '[1]' });
    assert.equal(q.n, 6);
    assert.equal(q.b, false);
    assert.deepEqual(q.l, ['p', 'q']);
    assert.deepEqual(q.j, [1]);
  });

  it('checks constraints with Heat messages', async () => {
    await rejects(
      resolveParameters(t, env, { s: 'abcdefg' }),
      "Parameter 's' is invalid: length (7) is out of range (min: 2, max: 5)",
    );
    await rejects(
      resolveParameters(t, env, { s: 'AB' }),
      `Parameter 's' is invalid: "AB" does not match pattern "[a-z]+"`,
    );
    await rejects(
      resolveParameters(t, env, { n: 11 }),
      "Parameter 'n' is invalid: 11 is out of range (min: 1, max: 10)",
    );
    await rejects(
      resolveParameters(t, env, { n: 3 }),
      "Parameter 'n' is invalid: 3 is not a multiple of 2 with an offset of 0",
    );
    await rejects(
      resolveParameters(t, env, { n: 'x' }),
      "Parameter 'n' is invalid: could not convert string to float: 'x'",
    );
    await rejects(resolveParameters(t, env, { a: 'three' }), "Parameter 'a' is invalid: pick one or two");
    await rejects(
      resolveParameters(t, env, { b: 'maybe' }),
      /^Parameter 'b' is invalid: Unrecognized value 'maybe', acceptable values are:/,
    );
    await rejects(
      resolveParameters(t, env, { zz: 1 }),
      'The Parameter (zz) was not defined in template.',
      'UnknownUserParameter',
    );
    const check = async (name: string, v: unknown) => (v === 'bad' ? `Error validating value '${v}': not found` : null);
    assert.equal((await resolveParameters(t, env, { c: 'good' }, check)).c, 'good');
    await rejects(
      resolveParameters(t, env, { c: 'bad' }, check),
      "Parameter 'c' is invalid: Error validating value 'bad': not found",
    );
  });

  it('checks parameter groups', () => {
    const base = 'heat_template_version: 2015-04-30\nparameters:\n  a: {type: string}\n  b: {type: string}\n';
    fails(
      () => parseTemplate(`${base}parameter_groups:\n- label: G1\n  parameters: [a]\n- label: G2\n  parameters: [a]\n`),
      'Parameter Groups error: parameter_groups.G2: The a parameter must be assigned to one parameter group only.',
    );
    fails(
      () => parseTemplate(`${base}parameter_groups:\n- parameters: [zz]\n`),
      'Parameter Groups error: parameter_groups.: The grouped parameter zz does not reference a valid parameter.',
    );
    fails(
      () => parseTemplate(`${base}parameter_groups:\n- label: S\n`),
      'Parameter Groups error: parameter_groups.S: The parameters must be provided for each parameter group.',
    );
    fails(
      () => parseTemplate(`${base}parameter_groups: {a: 1}\n`),
      'Parameter Groups error: parameter_groups: The parameter_groups should be a list.',
    );
  });

  it('requires parameters without defaults', async () => {
    const t2 = parseTemplate('heat_template_version: 2015-04-30\nparameters:\n  p: {type: string}\n');
    await rejects(resolveParameters(t2, env, {}), 'The Parameter (p) was not provided.', 'UserParameterMissing');
    assert.deepEqual(await resolveParameters(t2, { ...env, parameters: { p: 'v' } }, {}), { p: 'v' });
  });

  it('renders POST /validate as Heat (tempest test_template_validate_*)', () => {
    const tpl = `
heat_template_version: 2014-10-16
description: the stack description
parameters:
  aparam:
    type: number
    default: 10
    description: the param description
  cparam: {type: string, default: secret, hidden: true}
parameter_groups:
- label: str_params
  description: The string params
  parameters: [cparam]
resources:
  myres:
    type: OS::Heat::RandomString
    properties:
      length: {get_param: aparam}
`;
    const t2 = parseTemplate(tpl);
    assert.deepEqual(validateTemplateView(t2, parseEnvironment({ parameters: { aparam: 5 } })), {
      Description: 'the stack description',
      ParameterGroups: [{ label: 'str_params', description: 'The string params', parameters: ['cparam'] }],
      Parameters: {
        aparam: {
          Default: 10,
          Value: 5,
          Description: 'the param description',
          Label: 'aparam',
          NoEcho: 'false',
          Type: 'Number',
        },
        cparam: { Default: 'secret', Description: '', Label: 'cparam', NoEcho: 'true', Type: 'String' },
      },
      Environment: {
        event_sinks: [],
        parameter_defaults: {},
        parameters: { aparam: 5 },
        resource_registry: { resources: {} },
      },
    });
    const v = validateTemplateView(t2, emptyEnvironment(), {}, ['mynested.yaml']);
    assert.deepEqual((v.Environment as Record<string, unknown>).resource_registry, {
      'mynested.yaml': 'mynested.yaml',
      resources: {},
    });
  });

  it('renders NestedParameters as Heat (tempest test_template_validate_nested_on_multiple)', () => {
    const random = `
heat_template_version: 2014-10-16
description: the stack description
parameters:
  aparam: {type: number, default: 10, description: the param description}
resources:
  myres:
    type: OS::Heat::RandomString
    properties:
      length: {get_param: aparam}
`;
    const parent = parseTemplate(`
heat_template_version: 2014-10-16
description: the parent template
parameters:
  pparam: {type: number, default: 5, description: the param description}
resources:
  nres:
    type: mynested.yaml
    properties:
      aparam: {get_param: pparam}
`);
    const files = {
      'mynested.yaml': random.replace('OS::Heat::RandomString', 'mynested2.yaml'),
      'mynested2.yaml': random,
    };
    const aparam = {
      Default: 10,
      Description: 'the param description',
      Label: 'aparam',
      NoEcho: 'false',
      Type: 'Number',
    };
    assert.deepEqual(nestedParametersView(parent, emptyEnvironment(), {}, files), {
      nres: {
        Description: 'the stack description',
        Parameters: { aparam: { ...aparam, Value: 5 } },
        NestedParameters: {
          myres: { Description: 'the stack description', Parameters: { aparam }, Type: 'mynested2.yaml' },
        },
        Type: 'mynested.yaml',
      },
    });
  });

  it('renders the validate view', () => {
    assert.deepEqual(parameterView('n', t.parameters.n), {
      Type: 'Number',
      Description: '',
      NoEcho: 'false',
      Label: 'n',
      Default: 4,
      MinValue: 1,
      MaxValue: 10,
      Step: 2,
      Offset: 0,
    });
    assert.deepEqual(parameterView('a', t.parameters.a, { ...env, parameters: { a: 'two' } }).Value, 'two');
  });
});

describe('functions', () => {
  it('get_param with paths and pseudo parameters', () => {
    assert.equal(ev('2018-08-31', { get_param: ['p', 'a', 1] }, { p: { a: [1, 2] } }), 2);
    assert.equal(ev('2018-08-31', { get_param: ['p', 'zz'] }, { p: { a: 1 } }), '');
    assert.equal(ev('2018-08-31', { get_param: 'OS::stack_name' }), 'sname');
    fails(() => ev('2018-08-31', { get_param: 'nope' }), 'The Parameter (nope) was not provided.');
  });

  it('get_resource, get_attr (all forms)', () => {
    assert.equal(ev('2015-04-30', { get_resource: 'r' }), 'r-id');
    assert.deepEqual(ev('2018-08-31', { get_attr: ['r', 'show', 'name'] }), { n: 'r', a: 'show', p: ['name'] });
    assert.deepEqual(ev('2018-08-31', { get_attr: ['r'] }), { n: 'r', a: '', p: [] });
  });

  it('str_replace and its strict forms', () => {
    assert.equal(ev('2015-04-30', { str_replace: { template: 'a $x $xy', params: { $x: 1, $xy: 'L' } } }), 'a 1 L');
    assert.equal(ev('2015-10-15', { str_replace: { template: 'v=V', params: { V: { b: [1] } } } }), 'v={"b": [1]}');
    fails(
      () => ev('2015-04-30', { str_replace: { template: 'v=V', params: { V: [1] } } }),
      /"str_replace" params must be strings or numbers, param V is not valid/,
    );
    fails(
      () => ev('2017-02-24', { str_replace_strict: { template: 'abc', params: { x: 1 } } }),
      /The following params were not found in the template: x/,
    );
    fails(
      () => ev('2017-09-01', { str_replace_vstrict: { template: 'abc', params: { a: '' } } }),
      /str_replace_vstrict has an undefined or empty value for param a, must be a defined non-empty value/,
    );
  });

  it('list_join, str_split, map_merge, map_replace, list_concat(_unique), contains, filter', () => {
    assert.equal(ev('2015-04-30', { list_join: ['-', ['a', 'b']] }), 'a-b');
    assert.equal(ev('2016-04-08', { list_join: [',', ['a'], ['b', { c: 1 }]] }), 'a,b,{"c": 1}');
    assert.deepEqual(ev('2016-04-08', { str_split: [',', 'a,b,c'] }), ['a', 'b', 'c']);
    assert.equal(ev('2016-04-08', { str_split: [',', 'a,b,c', 2] }), 'c');
    fails(
      () => ev('2016-04-08', { str_split: [',', 'a,b', 5] }),
      /Incorrect index to "str_split" should be between 0 and 1/,
    );
    assert.deepEqual(ev('2016-04-08', { map_merge: [{ a: 1, b: 1 }, { b: 2 }] }), { a: 1, b: 2 });
    assert.deepEqual(
      ev('2016-10-14', {
        map_replace: [
          { k1: 'v1', k2: 'v2' },
          { keys: { k1: 'K1' }, values: { v2: 'V2' } },
        ],
      }),
      { K1: 'v1', k2: 'V2' },
    );
    assert.deepEqual(
      ev('2017-09-01', {
        list_concat: [
          [1, 2],
          [2, 3],
        ],
      }),
      [1, 2, 2, 3],
    );
    assert.deepEqual(
      ev('2017-09-01', {
        list_concat_unique: [
          [1, 2],
          [2, 3],
        ],
      }),
      [1, 2, 3],
    );
    assert.equal(ev('2017-09-01', { contains: ['a', ['a', 'b']] }), true);
    assert.deepEqual(ev('2017-02-24', { filter: [[2], [1, 2, 3, 2]] }), [1, 3]);
  });

  it('repeat with maps and permutations', () => {
    assert.deepEqual(ev('2015-04-30', { repeat: { template: '%a%-%b%', for_each: { '%a%': [1, 2], '%b%': ['x'] } } }), [
      '1-x',
      '2-x',
    ]);
    assert.deepEqual(
      ev('2017-09-01', {
        repeat: { template: '%a%-%b%', for_each: { '%a%': [1, 2], '%b%': ['x', 'y'] }, permutations: false },
      }),
      ['1-x', '2-y'],
    );
    assert.deepEqual(ev('2016-10-14', { repeat: { template: 'k:%k%', for_each: { '%k%': { a: 1, b: 2 } } } }), [
      'k:a',
      'k:b',
    ]);
  });

  it('digest, make_url, yaql, get_file', () => {
    assert.equal(
      ev('2015-04-30', { digest: ['sha256', 'abc'] }),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    assert.equal(
      ev('2017-09-01', {
        make_url: { scheme: 'http', host: 'h', port: 80, path: '/p a', query: { a: 'b c' }, fragment: 'f' },
      }),
      'http://h:80/p%20a?a=b+c#f',
    );
    assert.equal(ev('2017-09-01', { make_url: { scheme: 'https', host: '::1', path: '/x' } }), 'https://[::1]/x');
    assert.equal(
      ev('2017-09-01', { make_url: { scheme: 'http', host: '[::1]', path: '/foo/bar' } }),
      'http://[::1]/foo/bar',
    );
    assert.equal(
      ev('2017-09-01', {
        make_url: { scheme: 'http', username: 'wibble', password: 'blarg', host: 'example.com', path: '/foo/bar' },
      }),
      'http://wibble:blarg@example.com/foo/bar',
    );
    assert.equal(
      ev('2017-09-01', {
        make_url: {
          scheme: 'http',
          host: 'example.com',
          path: '/foo/?bar',
          query: { 'foo#': 'bar & baz', blarg: '/wib=ble/' },
        },
      }),
      'http://example.com/foo/%3Fbar?foo%23=bar+%26+baz&blarg=/wib%3Dble/',
    );
    assert.equal(
      ev('2017-09-01', { make_url: { scheme: 'http', host: 'example.com', path: 'foo/bar', fragment: 'baz' } }),
      'http://example.com/foo/bar#baz',
    );
    fails(
      () => ev('2017-09-01', { make_url: { scheme: 'https', host: 'h', port: 100000 } }),
      /Invalid URL port 100000, must be in range 1-65535/,
    );
    fails(() => ev('2017-09-01', { make_url: { scheme: 'https', host: 'h', port: '1.1' } }), /Invalid URL port "1.1"/);
    assert.equal(ev('2016-10-14', { yaql: { expression: '$.data.v.sum()', data: { v: [1, 2, 3] } } }), 6);
    assert.equal(ev('2015-04-30', { get_file: 'a.sh' }, {}, { 'a.sh': '#!/bin/sh' }), '#!/bin/sh');
    fails(() => ev('2015-04-30', { get_file: 'b' }), /No content found in the "files" section for get_file path: b/);
  });

  it('if, and IfNullable dropping the item', () => {
    const t = parseTemplate(`
heat_template_version: 2021-04-16
parameters:
  env: {type: string, default: prod}
conditions:
  prod: {equals: [{get_param: env}, prod]}
  dev: {not: prod}
  both: {and: [prod, {not: dev}]}
  any: {or: [dev, {contains: [{get_param: env}, [prod, x]]}]}
resources:
  r:
    type: OS::Heat::None
    properties:
      a: {if: [prod, 1, 2]}
      b: {if: [dev, 1]}
      c: [1, {if: [dev, 2]}, 3]
      d: {if: [{not: dev}, yes, no]}
`);
    const params = { env: 'prod' };
    assert.deepEqual(evaluateConditions(t, params), { prod: true, dev: false, both: true, any: true });
    assert.deepEqual(resolve(t.resources.r.properties, t, ctxFor(t, params)), { a: 1, c: [1, 3], d: true });
  });

  it('conditions errors', () => {
    const t = parseTemplate(
      'heat_template_version: 2016-10-14\nconditions:\n  a: {not: b}\n  b: {not: a}\n  c: {equals: [1, 1]}\n',
    );
    fails(() => evaluateConditions(t, {}), /Circular definition for condition "(a|b)"/);
    fails(
      () => parseTemplate('heat_template_version: 2016-10-14\nconditions:\n  a: {equals: [1, {get_attr: [x, y]}]}\n'),
      'conditions.a.equals[1].get_attr: The function "get_attr" is invalid in this context',
    );
    const t2 = parseTemplate('heat_template_version: 2016-10-14\noutputs:\n  foo: {value: 1, condition: nope}\n');
    fails(() => outputEnabled(t2, 'foo', {}), 'outputs.foo.condition: Invalid condition "nope"');
  });

  it('CFN functions', () => {
    const t = parseTemplate({
      AWSTemplateFormatVersion: '2010-09-09',
      Parameters: { P: { Type: 'String', Default: 'a,b' } },
      Mappings: { M: { k: { v: 'found' } } },
      Resources: { R: { Type: 'X', Properties: { ref: { Ref: 'P' }, res: { Ref: 'R2' } } }, R2: { Type: 'Y' } },
      Outputs: {
        o: {
          Value: {
            'Fn::Join': [
              '|',
              [
                { 'Fn::Select': ['1', { 'Fn::Split': [',', { Ref: 'P' }] }] },
                { 'Fn::FindInMap': ['M', 'k', 'v'] },
                { 'Fn::Replace': [{ $x: 'y' }, 'a$x'] },
                { 'Fn::Base64': 'b' },
                { Ref: 'AWS::StackName' },
              ],
            ],
          },
        },
      },
    });
    const ctx = ctxFor(t, { P: 'a,b' });
    assert.equal(resolve(t.outputs.o.value, t, ctx), 'b|found|ay|b|sname');
    assert.deepEqual(resolve(t.resources.R.properties, t, ctx), { ref: 'a,b', res: 'R2-id' });
    assert.deepEqual(dependencies(t, {}), { R: ['R2'], R2: [] });
  });
});

describe('dependencies', () => {
  it('collects depends_on and references, honouring conditions', () => {
    const t = parseTemplate(`
heat_template_version: 2016-10-14
parameters:
  on: {type: boolean, default: false}
conditions:
  enabled: {get_param: on}
resources:
  a: {type: X}
  b: {type: X, condition: enabled}
  c:
    type: X
    properties:
      x: {get_attr: [a, first]}
      y: {if: [enabled, {get_resource: b}, none]}
  d: {type: X, depends_on: [c], metadata: {m: {get_resource: a}}}
`);
    assert.deepEqual(dependencies(t, { enabled: false }), { a: [], c: ['a'], d: ['c', 'a'] });
    assert.deepEqual(dependencies(t, { enabled: true }), { a: [], b: [], c: ['a', 'b'], d: ['c', 'a'] });
  });
});

describe('environments', () => {
  it('parses and merges', () => {
    const a = parseEnvironment(
      'parameters: {x: 1}\nresource_registry:\n  "OS::A": "OS::B"\n  resources: {r1: {hooks: pre-create}}\n',
    );
    const b: Environment = parseEnvironment({
      parameters: { y: 2 },
      parameter_defaults: { z: 3 },
      event_sinks: [{ type: 'zaqar-queue' }],
    });
    const m = mergeEnvironments(a, b);
    assert.deepEqual(m.parameters, { x: 1, y: 2 });
    assert.deepEqual(m.parameter_defaults, { z: 3 });
    assert.equal(m.event_sinks.length, 1);
    assert.deepEqual(resourceHooks(m, 'r1'), ['pre-create']);
    assert.deepEqual(resourceHooks(m, 'r2'), []);
    assert.equal(resolveResourceType(m, 'r2', 'OS::A'), 'OS::B');
    fails(() => parseEnvironment('foo: {}\n'), 'environment has wrong section "foo"');
    fails(() => parseEnvironment('- 1\n'), 'The environment is not a valid YAML mapping data type.');
  });

  it('merges environment files over the request environment as the engine does', () => {
    const req = parseEnvironment({ parameters: { a: 1, b: 1 } });
    const m = mergeEnvironmentFiles(req, ['e1.yaml', 'e2.yaml'], {
      'e1.yaml': 'parameters: {b: 2}\nresource_registry: {"My::A": a.yaml}\n',
      'e2.yaml': 'parameter_defaults: {c: 3}\nresource_registry: {resources: {r: {hooks: pre-update}}}\n',
    });
    assert.deepEqual(m.parameters, { a: 1, b: 2 });
    assert.deepEqual(m.parameter_defaults, { c: 3 });
    assert.deepEqual(m.resource_registry, { 'My::A': 'a.yaml', resources: { r: { hooks: 'pre-update' } } });
    assert.throws(() => mergeEnvironmentFiles(req, ['nope.yaml'], {}), TemplateError);
  });

  it('resolves wildcards, per-resource entries and nested hooks', () => {
    const env = parseEnvironment({
      resource_registry: {
        'OS::Networking::*': 'OS::Neutron::*',
        'My::Server': 'server.yaml',
        resources: {
          web: { 'My::Server': 'web.yaml' },
          'nested*': { resources: { 'in*': { hooks: ['pre-delete'] } } },
        },
      },
    });
    assert.equal(resolveResourceType(env, 'x', 'OS::Networking::Net'), 'OS::Neutron::Net');
    assert.equal(resolveResourceType(env, 'x', 'My::Server'), 'server.yaml');
    assert.equal(resolveResourceType(env, 'web', 'My::Server'), 'web.yaml');
    assert.deepEqual(resourceHooks(env, ['nested1', 'inner']), ['pre-delete']);
  });
});

describe('more behaviour', () => {
  it('formats parse errors as the API does', () => {
    try {
      parseEnvironment('foo: {}\n');
    } catch (e) {
      assert.equal(
        apiFormatMessage(e as TemplateError, 'Environment'),
        'Environment not in valid format: environment has wrong section "foo"',
      );
    }
    try {
      parseTemplate('a: b\n');
    } catch (e) {
      assert.equal(
        apiFormatMessage(e as TemplateError, 'Template'),
        'Template not in valid format: Template format version not found.',
      );
    }
  });

  it('CFN conditions and Fn::If', () => {
    const t = parseTemplate({
      AWSTemplateFormatVersion: '2010-09-09',
      Parameters: { Env: { Type: 'String', Default: 'prod', AllowedValues: ['prod', 'test'] } },
      Conditions: { Prod: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] }, Test: { 'Fn::Not': ['Prod'] } },
      Resources: {
        A: { Type: 'X', Condition: 'Test' },
        B: { Type: 'X', Properties: { v: { 'Fn::If': ['Prod', 'p', 't'] } } },
      },
    });
    const conds = evaluateConditions(t, { Env: 'prod' });
    assert.deepEqual(conds, { Prod: true, Test: false });
    assert.deepEqual(dependencies(t, conds), { B: [] });
    assert.deepEqual(resolve(t.resources.B.properties, t, ctxFor(t, { Env: 'prod' })), { v: 'p' });
  });

  it('merges parameters by strategy', () => {
    const a = parseEnvironment({ parameters: { l: 'a,b', j: { x: { y: 1 } }, s: 'ab' } });
    const b = parseEnvironment({
      parameters: { l: 'c', j: { x: { z: 2 } }, s: 'cd' },
      parameter_merge_strategies: { l: 'merge', j: 'deep_merge', default: 'overwrite' },
    });
    const t = parseTemplate(
      'heat_template_version: 2018-08-31\nparameters:\n  l: {type: comma_delimited_list}\n  j: {type: json}\n  s: {type: string}\n',
    );
    const m = mergeEnvironments({ schemas: t.parameters }, a, b);
    assert.deepEqual(m.parameters, { l: 'a,b,c', j: { x: { y: 1, z: 2 } }, s: 'cd' });
  });

  it('lists literal attribute references for the engine to check', () => {
    const t = parseTemplate(
      'heat_template_version: 2018-08-31\nresources:\n  a: {type: X}\n  b: {type: X, properties: {p: [{get_attr: [a, first_address]}]}}\noutputs:\n  o: {value: {get_attr: [a, show, id]}}\n',
    );
    assert.deepEqual(attributeReferences(t), [
      { resource: 'a', attribute: 'first_address', path: ['resources', 'b', 'properties', 'p', 0, 'get_attr'] },
      { resource: 'a', attribute: 'show', path: ['outputs', 'o', 'value', 'get_attr'] },
    ]);
  });

  it('resolves outputs and resources for the engine', () => {
    const t = parseTemplate(`
heat_template_version: 2016-10-14
parameters:
  dp: {type: string, default: retain}
conditions:
  never: false
resources:
  a:
    type: X
    deletion_policy: {get_param: dp}
    properties: {v: {str_replace: {template: x, params: {x: {get_param: nope}}}}}
outputs:
  ok: {value: {get_resource: a}, description: the id}
  off: {value: 1, condition: never}
  bad: {value: {get_param: nope}}
`);
    const ctx = ctxFor(t, { dp: 'retain' });
    assert.deepEqual(resolveOutput(t, 'ok', ctx), { output_key: 'ok', description: 'the id', output_value: 'a-id' });
    assert.deepEqual(resolveOutput(t, 'off', ctx), {
      output_key: 'off',
      description: 'No description given',
      output_value: null,
    });
    assert.equal(resolveOutput(t, 'bad', ctx).output_error, 'The Parameter (nope) was not provided.');
    fails(() => resolveResource(t, 'a', ctx), 'The Parameter (nope) was not provided.');
    const t2 = parseTemplate(
      'heat_template_version: 2016-10-14\nresources:\n  a: {type: X, deletion_policy: snapshot, properties: {p: 1}}\n',
    );
    assert.deepEqual(resolveResource(t2, 'a', ctxFor(t2, {})), {
      type: 'X',
      properties: { p: 1 },
      metadata: {},
      deletion_policy: 'Snapshot',
      update_policy: {},
      external_id: null,
    });
  });

  it('shows stack parameters as Heat does', () => {
    const t = parseTemplate(
      'heat_template_version: 2018-08-31\nparameters:\n  l: {type: comma_delimited_list}\n  p: {type: string, hidden: true}\n  n: {type: number}\n  b: {type: boolean}\n',
    );
    assert.deepEqual(
      stackParametersView(t, { l: ['a', 'b'], p: 'secret', n: 3, b: true }, { id: 'i', name: 'n', projectId: 'p' }),
      {
        'OS::stack_id': 'i',
        'OS::stack_name': 'n',
        'OS::project_id': 'p',
        l: 'a,b',
        p: '******',
        n: '3',
        b: 'True',
      },
    );
  });
});

describe('template versions', () => {
  it('lists versions and functions', () => {
    const v = templateVersions();
    assert.ok(v.some((x) => x.version === 'heat_template_version.2016-04-08' && x.type === 'hot'));
    assert.ok(v.some((x) => x.version === 'AWSTemplateFormatVersion.2010-09-09' && x.type === 'cfn'));
    const f = templateFunctions('heat_template_version.2016-04-08');
    assert.equal(f.find((x) => x.functions === 'get_file')?.description, 'A function for including a file inline.');
    assert.ok(!f.some((x) => x.functions === 'Ref'));
    const c = templateFunctions('heat_template_version.pike', true).map((x) => x.functions);
    for (const n of ['and', 'contains', 'equals', 'get_param', 'not', 'or', 'yaql', 'get_attr', 'make_url']) {
      assert.ok(c.includes(n), n);
    }
    assert.deepEqual(templateFunctions('heat_template_version.2099-01-01'), []);
    assert.equal(findVersion('heat_template_version.2099-01-01'), undefined);
  });
});

// Heat's template errors: the exception class name (the API's error "type"), the message exactly as Heat
// formats it ("<error>: <path>: <message>" for StackValidationFailed) and the path of the fault.

/** Heat's path rendering: names joined with '.', integer items as '[n]'. */
export function formatPath(path: Array<string | number>): string {
  let out = '';
  for (const item of path) {
    if (typeof item === 'number' || /^\d+$/.test(item)) out += `[${item}]`;
    else if (out.length > 0) out += `.${item}`;
    else out = item;
  }
  return out;
}

export type HeatErrorType =
  | 'StackValidationFailed'
  | 'InvalidTemplateVersion'
  | 'InvalidTemplateSection'
  | 'InvalidTemplateReference'
  | 'InvalidTemplateAttribute'
  | 'InvalidSchemaError'
  | 'UserParameterMissing'
  | 'UnknownUserParameter'
  | 'ImmutableParameterModified'
  | 'InvalidEnvironment'
  | 'TemplateParseError'
  | 'RequestLimitExceeded';

/**
 * A template, environment or parameter fault. `message` is Heat's full text (what the 400 body carries),
 * `reason` the bare message without the error label and path, `path` the location of the fault.
 */
export class TemplateError extends Error {
  path: string[];
  type: HeatErrorType;
  /** Heat's "error" label (e.g. 'Property error', 'TypeError'); '' when none. */
  error: string;
  reason: string;
  constructor(reason: string, opts: { path?: Array<string | number>; type?: HeatErrorType; error?: string } = {}) {
    const path = (opts.path ?? []).map(String);
    const error = opts.error ?? '';
    const type = opts.type ?? 'StackValidationFailed';
    const p = formatPath(path);
    const full =
      type === 'StackValidationFailed' ? `${error ? `${error}: ` : ''}${p ? `${p}: ` : ''}${reason}` : reason;
    super(full);
    this.name = 'TemplateError';
    this.path = path;
    this.type = type;
    this.error = error;
    this.reason = reason;
  }
  /** The same fault, located deeper in a bigger document (path prefixed). */
  within(prefix: Array<string | number>): TemplateError {
    return new TemplateError(this.reason, {
      path: [...prefix.map(String), ...this.path],
      type: this.type,
      error: this.error,
    });
  }
}

/** The message of Heat's InvalidTemplateVersion. */
export function invalidVersion(explanation: string, path: Array<string | number> = []): TemplateError {
  return new TemplateError(`The template version is invalid: ${explanation}`, { type: 'InvalidTemplateVersion', path });
}

/** A function's argument fault (Heat raises TypeError/ValueError/KeyError inside functions). */
export function fnError(message: string, path: Array<string | number> = []): TemplateError {
  return new TemplateError(message, { path });
}

/**
 * The 400 text Heat's API gives when the template or environment text itself does not parse
 * (heat.api.openstack.v1.stacks.InstantiationData.format_parse): "<kind> not in valid format: <error>".
 * Other errors are returned unchanged.
 */
export function apiFormatMessage(e: TemplateError, kind: 'Template' | 'Environment'): string {
  if (e.type === 'TemplateParseError' || e.type === 'InvalidEnvironment')
    return `${kind} not in valid format: ${e.reason}`;
  return e.message;
}

// Heat's template language: the seam the orchestration engine uses (see briefs/hot-interface.md).
export { TemplateError, formatPath, apiFormatMessage } from './errors.ts';
export type { HeatErrorType } from './errors.ts';
export type {
  Constraint,
  CustomConstraintChecker,
  Environment,
  OutputDefinition,
  ParameterSchema,
  ParameterType,
  ResolveContext,
  ResourceDefinition,
  Template,
} from './types.ts';
export { parseTemplate, loadTemplate, MAX_TEMPLATE_SIZE, MAX_RESOURCES_PER_STACK } from './parse.ts';
export {
  resolveParameters,
  parameterView,
  stackParametersView,
  userEnvView,
  validateTemplateView,
  parameterHot,
  immutableParamsModified,
  immutableError,
  parseParameterValue,
  API_TYPES,
} from './parameters.ts';
export {
  resolve,
  resolveOutput,
  resolveResource,
  evaluateConditions,
  conditionEnabled,
  outputEnabled,
  dependencies,
  enabledResources,
  outputReferences,
  selectFromAttribute,
  attributeReferences,
  invalidAttribute,
} from './functions.ts';
export {
  parseEnvironment,
  mergeEnvironments,
  mergeEnvironmentFiles,
  emptyEnvironment,
  resolveResourceType,
  resourceHooks,
  validateHooks,
  environmentView,
  isTemplateName,
  fnmatch,
  HOOK_TYPES,
} from './environment.ts';
export { templateVersions, templateFunctions, findVersion } from './versions.ts';
export { nestedParametersView } from './validate.ts';

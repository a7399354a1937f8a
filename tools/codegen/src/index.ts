export { buildModel, componentName, deriveOperationId } from './bundle.js';
export { eventTypeName } from './emit.js';
export { SpecError } from './errors.js';
export { generate, staleFiles, writeOutput } from './generate.js';
export type { OperationInfo, ParameterInfo, SchemaFile, SpecModel } from './model.js';
export { SPEC_BASE_URI } from './model.js';

export { operationTable, type OperationId } from './generated/operations.js';
export type { OperationInfo, ParameterInfo } from './operation-info.js';

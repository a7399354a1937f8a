export type { paths, operations, components } from './generated/api.js';
export { operationTable, type OperationId, type OperationInfo, type ParameterInfo } from './operations.js';
export {
  validateEvent, validateRequestBody, validateResponse, describesResponse, parseQuery, eventTypesWithSchema,
  type ValidationIssue, type ResponseValidationOptions, type ValidationResult, type QueryResult, type QueryValue,
} from './validate.js';
export type {
  ClientEvent, RoomEvent, StateEvent, StrippedStateEvent, KnownEvent, KnownEventType, EventOfType,
} from './generated/events.js';

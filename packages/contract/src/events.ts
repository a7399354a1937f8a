export * from './generated/events.js';
export { validateEvent, eventTypesWithSchema } from './validate.js';

export * from './server.js';
export * from './http.js';

export * from './server.js';
export * from './http.js';
export * from './cli.js';
export * from './db.js';

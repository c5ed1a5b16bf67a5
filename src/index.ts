/**
 * Kirin's public API: the config types and `defineConfig`, for kirin.config.ts.
 */
export { defineConfig } from './config/types.ts';
export type * from './config/types.ts';

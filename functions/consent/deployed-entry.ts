/**
 * The deployed bundle's entry (scripts/bundle): turns on the bundle's compile cache, then loads the
 * function, as functions/token/deployed-entry.ts does.
 */
import { enableBundleCompileCache } from '../../shared/compile-cache.js';

enableBundleCompileCache(import.meta.url);
await import('./index.js');

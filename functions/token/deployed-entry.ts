/**
 * The deployed bundle's entry (scripts/bundle): turns on the bundle's compile cache, then loads the
 * function, so the code on the start path is compiled from V8's cache. The unbundled build serves
 * index.ts directly.
 */
import { enableBundleCompileCache } from '../../shared/compile-cache.js';

enableBundleCompileCache(import.meta.url);
await import('./index.js');

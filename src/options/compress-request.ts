/**
 * The codec and level a run asks for, from --compress and --zlevel. --zlevel alone is
 * zlib at that level, as in the original tool, so its scripts keep their behaviour;
 * neither given is auto.
 */
import type { CompressRequest } from '../protocol/codec-policy.js';
import { DEFAULT_ZLEVEL, DEFAULT_ZSTD_LEVEL } from './option-schema.js';

export function compressRequestOf(o: { compress?: CompressRequest['compress']; zlevel?: number }): CompressRequest {
  const compress = o.compress ?? (o.zlevel !== undefined ? 'zlib' : 'auto');
  const level = o.zlevel ?? (compress === 'zstd' ? DEFAULT_ZSTD_LEVEL : compress === 'zlib' ? DEFAULT_ZLEVEL : 0);
  return { compress, level };
}

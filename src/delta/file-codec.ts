/**
 * How the payloads of a delta or undo file are compressed. A file has no link to keep
 * full, so `auto` has nothing to adapt to: it takes zstd level 3 where this node has
 * zstd built in (fast on the thread pool, smaller than zlib), and zlib level 1 where
 * zstd would be the WASM build (which compresses on the event loop, slowly). An
 * explicit --compress/--zlevel is taken as given. Whatever the writer chose, the
 * reader decodes it: every basyn has zlib and zstd (built-in or WASM) for reading.
 */
import type { CodecSetting } from '../protocol/block-codec.js';
import type { CompressRequest } from '../protocol/codec-policy.js';
import { zstdKind } from '../protocol/zstd.js';

export function fileCodecOf(request: CompressRequest): CodecSetting {
  switch (request.compress) {
    case 'none':
      return { codec: 'none', level: 0 };
    case 'zlib':
    case 'zstd':
      return { codec: request.compress, level: request.level };
    case 'auto':
      return zstdKind === 'builtin' ? { codec: 'zstd', level: 3 } : { codec: 'zlib', level: 1 };
  }
}

/** Raw bytes shown to a user: a shell's banner, a file name that is not UTF-8. */

/**
 * Bytes as one unambiguous quoted line: printable ASCII as is, `\` and `"` escaped,
 * everything else as \n, \r, \t or \xNN; cut after `max` bytes with "...".
 */
export function quoteBytes(bytes: Buffer, max: number): string {
  let text = '';
  for (const byte of bytes.subarray(0, max)) {
    if (byte === 0x5c) text += '\\\\';
    else if (byte === 0x22) text += '\\"';
    else if (byte === 0x0a) text += '\\n';
    else if (byte === 0x0d) text += '\\r';
    else if (byte === 0x09) text += '\\t';
    else if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
    else text += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `"${text}"${bytes.length > max ? '...' : ''}`;
}

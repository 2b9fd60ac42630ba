/**
 * How a name (a path, a host, a program) or a text that came from elsewhere (the
 * agent's stderr, its error messages) appears in every line meant for a person:
 * --verbose, --debug, --progress, error lines. One escaping, so that two different
 * names never print the same and no name can break a line or move the cursor.
 *
 * A name is shown as it is when it holds only printable characters and no space,
 * double quote or backslash; otherwise in double quotes, C style: \" \\ \n \t \r,
 * \xNN for the other control characters (and for a byte that is not UTF-8), \u{N}
 * for the other characters that print as nothing or as white space. A text is
 * shown as it is unless it holds such a character or begins with a double quote.
 * The bare form never begins with a double quote and the quoted form always does,
 * which is what keeps both unambiguous.
 */

/** Characters that print as nothing, move the cursor, or look like another character. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Zs}]/u;
const NAMED: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t', '\r': '\\r' };

/** A path or other name, for a message: `disk.img`, or `"my disk.img"`, `"a\nb"`. */
export function quoteName(name: string | Uint8Array): string {
  if (typeof name !== 'string') return quoteBytes(name);
  if (name !== '' && !/[\s"\\]/.test(name) && !INVISIBLE.test(name)) return name;
  return quoted(name);
}

/** A text from outside basyn (a remote line, a foreign message), kept on one line. */
export function quoteText(text: string): string {
  if (!text.startsWith('"') && !INVISIBLE.test(text.replaceAll(' ', ''))) return text;
  return quoted(text);
}

/**
 * One of basyn's own messages, whose names are already quoted, kept on one line:
 * as it is, or whole in the quoted form if something raw still reached it.
 */
export function oneLine(message: string): string {
  return INVISIBLE.test(message.replaceAll(' ', '')) ? quoted(message) : message;
}

function quoted(text: string): string {
  let out = '"';
  for (const c of text) out += escapeChar(c);
  return `${out}"`;
}

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  // A space is the one white-space character shown as it is.
  if (c !== ' ' && INVISIBLE.test(c)) return `\\u{${code.toString(16)}}`;
  return c;
}

/**
 * Bytes from elsewhere (what a remote shell printed, an argument that is not UTF-8),
 * cut after `max` bytes: always in the quoted form (a cut text shown bare could not be
 * told from one that ends in "..."), followed by "..." when cut.
 */
export function quoteRawBytes(bytes: Uint8Array, max: number): string {
  return `${quoteBytes(bytes.subarray(0, max), true)}${bytes.length > max ? '...' : ''}`;
}

/**
 * A name given as bytes (a file name that need not be UTF-8): valid UTF-8 shown as
 * text, every other byte as \xNN, so the name can be told from any other.
 */
function quoteBytes(bytes: Uint8Array, alwaysQuoted = false): string {
  let text = '';
  let escaped = '';
  let clean = true;
  for (let i = 0; i < bytes.length; ) {
    const n = utf8SequenceLength(bytes, i);
    if (n === 0) {
      escaped += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
      clean = false;
      i++;
    } else {
      const c = Buffer.from(bytes.subarray(i, i + n)).toString('utf8');
      text += c;
      escaped += escapeChar(c);
      i += n;
    }
  }
  return clean && !alwaysQuoted ? quoteName(text) : `"${escaped}"`;
}

/** Length of the well-formed UTF-8 sequence at `i`, or 0 when the byte there starts none. */
function utf8SequenceLength(b: Uint8Array, i: number): number {
  const x = b[i]!;
  if (x < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (x >= 0xc2 && x <= 0xdf) return cont(1) ? 2 : 0;
  if (x === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (x === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (x >= 0xe1 && x <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (x === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (x === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  if (x >= 0xf1 && x <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/**
 * What the words of -e/--rsh already tell ssh about the port and the user. ssh keeps
 * the first value it sees for each (command line before config files), and basyn
 * adds -p and -l after those words: a port or user inside -e would silently win over
 * -p/-u. The options are read as ssh's own getopt reads them, from the word that
 * names ssh (the first word, or a later one after a wrapper such as sshpass).
 */
import { basename } from 'node:path';

/** ssh's options that take a value (OpenSSH's getopt string). */
const SSH_OPTIONS_WITH_VALUE = new Set('bceilmopBDEFIJLOPQRSwW');

export interface SshWordsFound {
  /** How the port was given inside the words, e.g. "-p 2222" or "-o Port=2222". */
  port?: string;
  user?: string;
}

export function sshPortAndUserIn(words: readonly string[]): SshWordsFound {
  const found: SshWordsFound = {};
  const at = words.findIndex((w) => basename(w) === 'ssh');
  // Not ssh, or a program wrapped so that ssh can't be found: its options are its own.
  if (at < 0) return found;
  for (let i = at + 1; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') break;
    // ssh takes a word without "-" as the host and goes on reading options after it.
    if (!word.startsWith('-') || word === '-') continue;
    for (let k = 1; k < word.length; k++) {
      const letter = word[k]!;
      if (!SSH_OPTIONS_WITH_VALUE.has(letter)) continue;
      const glued = k + 1 < word.length;
      const value = glued ? word.slice(k + 1) : words[++i];
      if (value === undefined) break;
      const shown = glued ? word : `-${letter} ${value}`;
      if (letter === 'p') found.port ??= shown;
      if (letter === 'l') found.user ??= shown;
      if (letter === 'o') {
        const keyword = /^\s*([A-Za-z]+)\s*[=\s]/.exec(value)?.[1]?.toLowerCase();
        if (keyword === 'port') found.port ??= shown;
        if (keyword === 'user') found.user ??= shown;
      }
      break;
    }
  }
  return found;
}

/**
 * README.md says what the code does: every rule between options appears, word for
 * word, in its "Usage errors" list, and every option of the schema has its row in the
 * Options table, with its property in the library.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../test-support/paths.js';
import { OPTION_RULES } from './option-rules.js';
import { OPTION_SCHEMA } from './option-schema.js';
import { COMMAND_LINE } from './option-spelling.js';

const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');

/** The text between a heading and the next heading of the same or a higher level. */
function section(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README.md has no "${heading}"`);
  const level = heading.split(' ')[0]!;
  const next = readme.slice(start + heading.length + 2).search(new RegExp(`\\n#{1,${level.length}} `));
  return readme.slice(start, next < 0 ? undefined : start + heading.length + 2 + next);
}

const flat = (text: string): string => text.replace(/\s+/g, ' ');

test('every usage error of the rules between options is listed, word for word, under "Usage errors"', () => {
  const listed = flat(section('### Usage errors'));
  const missing: string[] = [];
  for (const rule of OPTION_RULES) {
    const text = rule.says(COMMAND_LINE);
    // The six options that need -r share one line, with OPTION standing for each.
    const shared = /^(\S+) (is for the remote device, .*)$/.exec(text);
    const found = shared !== null
      ? listed.includes(`OPTION ${shared[2]}`) && listed.includes(`\`${shared[1]}\``)
      : listed.includes(text);
    if (!found) missing.push(text);
  }
  assert.deepEqual(missing, [], 'rules missing from README.md "Usage errors"');
});

test('every option has its row in the Options table, with its library property', () => {
  const rows = section('## Options').split('\n').filter((l) => l.startsWith('| `-'));
  for (const entry of OPTION_SCHEMA) {
    const names = entry.short !== undefined ? `\`-${entry.short}\`, \`--${entry.long}\`` : `\`--${entry.long}\``;
    const row = rows.find((r) => r.startsWith(`| ${names} |`));
    assert.ok(row !== undefined, `no row for --${entry.long}`);
    const library = row.split('|').at(-2)!.trim();
    if (entry.library === undefined) assert.match(library, /^none/, `--${entry.long} has no library property`);
    else assert.ok(library.startsWith(`\`${entry.library.name}`), `--${entry.long}: the library column says ${library}, not ${entry.library.name}`);
  }
  assert.equal(rows.length, OPTION_SCHEMA.length, 'a row for an option that does not exist');
});

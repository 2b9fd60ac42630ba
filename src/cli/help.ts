/**
 * The text of --help: every option of the schema with its text, grouped, then the
 * exit codes and examples.
 */
import { OPTION_SCHEMA, type HelpGroup, type OptionEntry } from '../options/option-schema.js';

const GROUP_TITLES: Record<HelpGroup, string> = {
  devices: 'Devices and host (* mandatory):',
  action: 'What to do:',
  tuning: 'Tuning:',
  bitmap: 'Bitmap (SYNC only; the bitmap file is always on the local machine):',
  delta: 'Delta files (offline transfer; docs/delta-format.md):',
  output: 'Output:',
};

const TEXT_COLUMN = 24;
const WIDTH = 90;

/** "-l, --local=PATH" or "    --sudo", so long names line up under each other. */
function names(e: OptionEntry): string {
  const value = e.help.placeholder !== undefined ? `=${e.help.placeholder}` : '';
  return `${e.short !== undefined ? `-${e.short}, ` : '    '}--${e.long}${value}`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function optionLines(e: OptionEntry): string {
  const head = `${e.help.mandatory === true ? ' * ' : '   '}${names(e)}`;
  const indent = ' '.repeat(TEXT_COLUMN);
  const [first, ...rest] = wrap(e.help.text, WIDTH - TEXT_COLUMN);
  const lines = head.length <= TEXT_COLUMN - 2 ? [`${head.padEnd(TEXT_COLUMN)}${first}`] : [head, `${indent}${first}`];
  return [...lines, ...rest.map((l) => `${indent}${l}`)].join('\n');
}

function optionSections(): string {
  return (Object.keys(GROUP_TITLES) as HelpGroup[])
    .map((group) => [GROUP_TITLES[group], ...OPTION_SCHEMA.filter((e) => e.help.group === group).map(optionLines)].join('\n'))
    .join('\n\n');
}

export function helpText(): string {
  return `basyn - copy or sync a block device or image file to another, locally or over SSH,
sending only the blocks that changed.

Usage: basyn -l LOCAL -r REMOTE [-h HOST [-p PORT] [-u USER]] [-a PUSH|PULL -m SYNC|COPY] [options]

${optionSections()}

Exit codes:
  0  Done; the data is identical (over the synced size).
  1  Command line error (shown). Nothing was opened for writing, nothing changed.
  2  Copy, sync or recheck error (shown). The destination may be partly written.

Examples:
  basyn -l /dev/sda1 -r /dev/sda1 -h 10.0.0.1 -a PUSH -m SYNC --stat
  basyn -l disk.img -r copy.img -a PUSH -m COPY --progress
  basyn -l /dev/sda1 -r /dev/sda1 -h 10.0.0.1 --recheck
  basyn -l /dev/sda1 -r /dev/sda1 -h 10.0.0.1 -a PUSH -m SYNC -b /var/lib/basyn/sda1.bitmap
  basyn -l /dev/sda1 -b sda1.bitmap -a PUSH -m SYNC --write-delta=monday.delta
  basyn --apply-delta=monday.delta -r /dev/sdb1 -h 10.0.0.1
`;
}

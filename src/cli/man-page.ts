/**
 * basyn(1), made from the README at build time (scripts/man-page.mjs writes
 * man/basyn.1): the README is the user documentation, written once, and the man page
 * is its sections for a person at a terminal, in roff. Every option of the schema is
 * described there (a test holds the README to that), so an option added to the
 * schema and the README reaches the man page with the next build.
 *
 * Only the Markdown the README uses is understood: headings, paragraphs, lists (an
 * item whose first line ends in a hard break, as the options do, becomes a tagged
 * paragraph), indented and fenced code, tables, and inline code, bold, italics and
 * links.
 */

export interface ManPageSource {
  readme: string;
  version: string;
  /** package.json's description: the NAME line. */
  description: string;
}

/** README sections left out: they are about the checkout, the library or the benchmarks. */
const LEFT_OUT = new Set(['Contents', 'Installation', 'Library API', 'Performance and benchmarks', 'Development']);
/** README sections that have a man page's usual name. */
const RENAMED: Record<string, string> = { Usage: 'SYNOPSIS', Description: 'DESCRIPTION', 'Exit codes': 'EXIT STATUS' };

/** Escapes text for roff: backslashes, and minus signs so options print as typed. */
function escape(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
}

/** Inline Markdown to roff fonts; links keep their text (and an outside address). */
export function inline(text: string): string {
  let out = '';
  const pattern = /`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\[([^\]]+)\]\(([^)]+)\)/g;
  let at = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    out += escape(text.slice(at, m.index));
    if (m[1] !== undefined) out += `\\fB${escape(m[1])}\\fR`;
    else if (m[2] !== undefined) out += `\\fB${inline(m[2])}\\fR`;
    else if (m[3] !== undefined) out += `\\fI${inline(m[3])}\\fR`;
    else {
      const target = m[5]!;
      out += inline(m[4]!);
      if (/^https?:/.test(target)) out += ` <${escape(target)}>`;
      else if (!target.startsWith('#')) out += ` (${escape(target)})`;
    }
    at = m.index + m[0].length;
  }
  return out + escape(text.slice(at));
}

/**
 * Lines of running text, as one piece (inline code may span a line break); roff must
 * not read a leading dot or quote as a request.
 */
function textLines(lines: readonly string[]): string[] {
  return inline(lines.map((l) => l.trim()).join('\n')).split('\n').map((l) => (/^[.']/.test(l) ? `\\&${l}` : l));
}

function textLine(text: string): string {
  return textLines([text])[0]!;
}

function codeBlock(lines: readonly string[]): string[] {
  return ['.PP', '.RS 4', '.nf', ...lines.map((l) => (/^[.']/.test(l) ? `\\&${escape(l)}` : escape(l))), '.fi', '.RE'];
}

function tableRows(lines: readonly string[]): string[] {
  const cells = (l: string): string[] => l.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
  const [head, , ...rows] = lines;
  const titles = cells(head!);
  const out: string[] = [];
  for (const row of rows) {
    const [first, ...rest] = cells(row);
    out.push('.TP', textLine(first!));
    rest.forEach((cell, i) => {
      if (cell === '') return;
      if (i > 0) out.push('.br');
      out.push(textLine(`${titles[i + 1]}: ${cell}`));
    });
  }
  return out;
}

/** The body of one README section (after its `##` line) in roff. */
function sectionBody(lines: readonly string[]): string[] {
  const out: string[] = [];
  let nested = false;
  const unnest = (): void => {
    if (nested) out.push('.RE');
    nested = false;
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
    } else if (line.startsWith('### ')) {
      unnest();
      out.push(`.SS ${textLine(line.slice(4))}`);
      i++;
    } else if (line.startsWith('```')) {
      unnest();
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) code.push(lines[i]!);
      out.push(...codeBlock(code));
      i++;
    } else if (line.startsWith('    ')) {
      unnest();
      const code: string[] = [];
      for (; i < lines.length && (lines[i]!.startsWith('    ') || (lines[i]!.trim() === '' && lines[i + 1]?.startsWith('    '))); i++) code.push(lines[i]!.slice(4));
      out.push(...codeBlock(code));
    } else if (line.startsWith('|')) {
      unnest();
      const rows: string[] = [];
      for (; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(lines[i]!);
      out.push(...tableRows(rows));
    } else if (/^ {0,2}- /.test(line)) {
      const indent = line.indexOf('-');
      // An item under an item (two spaces in) is indented one step further.
      if (indent > 0 && !nested) out.push('.RS 2');
      else if (indent === 0) unnest();
      nested = indent > 0;
      const item = [line.slice(indent + 2)];
      for (i++; i < lines.length; i++) {
        const next = lines[i]!;
        if (next.trim() === '' || /^\s*- /.test(next) || !next.startsWith(' '.repeat(indent + 2))) break;
        item.push(next);
      }
      // "- `-l PATH`, `--local=PATH`  " then the text: a tagged paragraph, as options are in man pages.
      if (item[0]!.endsWith('  ') && item.length > 1) out.push('.TP', textLine(item[0]!), ...textLines(item.slice(1)));
      else out.push('.IP \\(bu 2', ...textLines(item));
    } else {
      // A paragraph indented under a list item continues that item.
      const continues = line.startsWith(' ');
      if (!continues) unnest();
      const paragraph: string[] = [];
      for (; i < lines.length && lines[i]!.trim() !== '' && !/^(\s*- |\||```|### )/.test(lines[i]!); i++) paragraph.push(lines[i]!);
      out.push(continues ? '.IP' : '.PP', ...textLines(paragraph));
    }
  }
  unnest();
  return out;
}

/** The README split at its `##` headings; the text before the first is the lead. */
function sections(readme: string): { lead: string[]; parts: { title: string; lines: string[] }[] } {
  const lines = readme.split('\n');
  const lead: string[] = [];
  const parts: { title: string; lines: string[] }[] = [];
  for (const line of lines) {
    if (line.startsWith('## ')) parts.push({ title: line.slice(3).trim(), lines: [] });
    else if (parts.length > 0) parts.at(-1)!.lines.push(line);
    else if (!line.startsWith('# ')) lead.push(line);
  }
  return { lead, parts };
}

export function manPage(source: ManPageSource): string {
  const { lead, parts } = sections(source.readme);
  const included = parts.filter((p) => !LEFT_OUT.has(p.title));
  const usage = included.find((p) => p.title === 'Usage');
  const description = included.find((p) => p.title === 'Description');
  const rest = included.filter((p) => p !== usage && p !== description);
  const out = [
    ".\\\" -*- coding: UTF-8 -*-",
    '.\\" Generated from README.md by scripts/man-page.mjs (src/cli/man-page.ts): edit the README.',
    `.TH BASYN 1 "" "basyn ${escape(source.version)}" "User Commands"`,
    // Option names must not be hyphenated or stretched apart.
    '.nh',
    '.ad l',
    '.SH NAME',
    `basyn \\- ${escape(source.description)}`,
  ];
  if (usage !== undefined) out.push('.SH SYNOPSIS', ...sectionBody(usage.lines));
  out.push('.SH DESCRIPTION', ...sectionBody(lead));
  if (description !== undefined) out.push(...sectionBody(description.lines));
  for (const part of rest) out.push(`.SH ${escape((RENAMED[part.title] ?? part.title).toUpperCase())}`, ...sectionBody(part.lines));
  out.push('.SH SEE ALSO', 'ssh(1), ssh_config(5), sshd(8), losetup(8), fstrim(8)');
  return `${out.join('\n')}\n`;
}

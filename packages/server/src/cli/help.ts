/**
 * The usage texts, all written from the command table (commands.ts): the overall one (`latchkey --help`),
 * a group's (`latchkey clients --help`) and a command's (`latchkey clients create --help`).
 */
import { COMMANDS, commandsUnder, findCommand, GLOBAL_OPTIONS, type CommandSpec, type OptionSpec } from './commands.ts';

const WIDTH = 100;
/** Where the descriptions start in a list of commands or options. */
const COLUMN = 34;

/** `--name NAME`, `--first-party`, `-h, --help`. */
export function optionLabel(option: OptionSpec): string {
  const long = `--${option.name}${option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : ''}`;
  return option.short ? `-${option.short}, ${long}` : long;
}

/** `clients create --name NAME --type confidential|public [--grant-types G,G] [--scopes a,b] [options]`, `keys rotate [--alg ES256|RS256|all] [--now]`. */
export function synopsis(command: CommandSpec): string {
  const options = command.options ?? [];
  // One or two optional options are shown by name; more are `[options]`, listed by the command's help.
  const few = options.filter((o) => !o.required).length <= 2;
  const parts = [...command.path, ...(command.args ?? []).map((a) => a.name)];
  for (const option of options) {
    if (option.required) parts.push(optionLabel(option));
    else if (option.inSynopsis || few) parts.push(`[${optionLabel(option)}]`);
  }
  if (!few && options.some((o) => !o.required && !o.inSynopsis)) parts.push('[options]');
  return parts.join(' ');
}

/** Words of `text` in lines of at most `width` characters (a longer word stays whole), each after `indent`. */
function wrap(text: string, indent: number, width = WIDTH): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line !== '' && indent + line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line === '' ? word : `${line} ${word}`;
      }
    }
    lines.push(line);
  }
  return lines;
}

/** `  label   text`, the text at COLUMN (on the next line when the label is too long), wrapped. */
function row(label: string, text: string): string {
  const [first = '', ...more] = wrap(text, COLUMN);
  const pad = ' '.repeat(COLUMN);
  const head = `  ${label}`;
  const lines = head.length + 2 <= COLUMN ? [head.padEnd(COLUMN) + first] : [head, pad + first];
  return [...lines, ...more.map((l) => pad + l)].join('\n');
}

/** A long example broken before its options, with shell line continuations. */
function exampleLines(example: string): string[] {
  if (example.length + 2 <= WIDTH) return [`  ${example}`];
  const pieces = example.split(/ (?=--)/);
  const lines: string[] = [];
  let line = '';
  for (const piece of pieces) {
    if (line !== '' && 4 + line.length + 1 + piece.length + 2 > WIDTH) {
      lines.push(line);
      line = piece;
    } else {
      line = line === '' ? piece : `${line} ${piece}`;
    }
  }
  lines.push(line);
  return lines.map((l, i) => `${i === 0 ? '  ' : '    '}${l}${i < lines.length - 1 ? ' \\' : ''}`);
}

function globalOptionsText(): string {
  return ['Global options:', ...GLOBAL_OPTIONS.map((o) => row(optionLabel(o), o.help))].join('\n');
}

function commandList(commands: CommandSpec[]): string {
  return commands.map((c) => row(synopsis(c), c.summary)).join('\n');
}

/** `latchkey --help`: every command on a line or two, and the global options. */
export function overallUsage(): string {
  return [
    'Usage: latchkey <command> [options]',
    '',
    'Commands:',
    commandList(COMMANDS),
    row('help [COMMAND]', "show a command's options and examples (as latchkey COMMAND --help)"),
    '',
    globalOptionsText(),
    '',
    'Settings come from the same environment variables as the server (LATCHKEY_DATA_DIR, DATABASE_URL, ...).',
  ].join('\n');
}

/** `latchkey` alone: the commands' first words, and where to read more. */
export function shortUsage(): string {
  const names = [...new Set(COMMANDS.map((c) => c.path[0]!))];
  return [
    'Usage: latchkey <command> [options]',
    '',
    'Commands:',
    ...wrap(names.join(', '), 2).map((l) => `  ${l}`),
    '',
    'latchkey --help lists every command; latchkey help COMMAND (or COMMAND --help) shows its options.',
  ].join('\n');
}

/** `latchkey clients create --help`: its synopsis, what it does, its options, examples. */
function commandUsage(command: CommandSpec): string {
  const options = command.options ?? [];
  const sections = [`Usage: latchkey ${synopsis(command)}`, '', ...wrap(`${capitalize(command.summary)}.`, 0)];
  if (command.details) sections.push(...wrap(command.details, 0));
  if (options.length > 0) {
    sections.push('', 'Options:', ...options.map((o) => row(optionLabel(o), `${o.required ? '(required) ' : ''}${o.help}${o.multiple ? ' (repeatable)' : ''}`)));
  }
  sections.push('', globalOptionsText());
  if (command.examples?.length) sections.push('', 'Examples:', ...command.examples.flatMap(exampleLines));
  return sections.join('\n');
}

/** `latchkey clients --help`: the group's commands, and an example or two. */
function groupUsage(prefix: readonly string[], commands: CommandSpec[]): string {
  const name = prefix.join(' ');
  const examples = commands.flatMap((c) => c.examples?.slice(0, 1) ?? []).slice(0, 2);
  return [
    `Usage: latchkey ${name} <command> [options]`,
    '',
    'Commands:',
    commandList(commands),
    '',
    `latchkey ${name} <command> --help shows a command's options.`,
    '',
    globalOptionsText(),
    ...(examples.length ? ['', 'Examples:', ...examples.flatMap(exampleLines)] : []),
  ].join('\n');
}

/** The help for `path`: a command's, a group's, or (empty path) the overall usage. Undefined if it names nothing. */
export function usageFor(path: readonly string[]): string | undefined {
  if (path.length === 0) return overallUsage();
  const command = findCommand(path);
  if (command) return commandUsage(command);
  const under = commandsUnder(path);
  return under.length > 0 ? groupUsage(path, under) : undefined;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

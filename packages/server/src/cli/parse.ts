/**
 * The command line, read against the command table (commands.ts): which command, its options and its
 * arguments. A command takes only its own options and the global ones; whatever is wrong is said in one
 * line (a UsageError), with the nearest option or command name when there is one.
 */
import { commandsUnder, findCommand, GLOBAL_OPTIONS, OPTION_KINDS, type CommandSpec, type OptionSpec } from './commands.ts';
import { synopsis } from './help.ts';
import { UsageError, type CommandArgs } from './io.ts';

export type CommandLine =
  /** Run `command` with these values; `positionals` are all the words, the command's own first. */
  | { kind: 'run'; command: CommandSpec; values: CommandArgs['values']; positionals: string[] }
  /** Show the help of the command or group `path` (the overall usage for an empty one). */
  | { kind: 'help'; path: string[] }
  | { kind: 'version'; json: boolean }
  /** No command at all. */
  | { kind: 'none' };

/**
 * Ids are base64url (key ids are RFC 7638 thumbprints), so an id may begin with '-': `keys revoke -Uq...`
 * or `registration tokens revoke -2x...` must not be read as an option. Such an argument is the positional
 * (or the option value) it is: one dash and seven or more id characters (the only short option is -h), or
 * two dashes and id characters no option name has (options are lower-case words). A short value such as
 * `-5` is still refused as the ambiguous option value it is.
 */
export const DASHED_ID = /^(?:-[A-Za-z0-9_][A-Za-z0-9_-]{6,}|--(?=[A-Za-z0-9_-]*[A-Z0-9_])[A-Za-z0-9_-]{6,})$/;

interface OptionToken {
  /** As typed, without a value: `--scope`, `-x`. */
  raw: string;
  name: string;
  /** Undefined for a name no command knows. */
  spec: OptionSpec | undefined;
  /** `--name=VALUE`. */
  inline: string | undefined;
  /** The value of a string option (inline or the next argument). */
  value: string | undefined;
  /** The argument after a string option that had no value, if any: `-5` in `--expires-in -5`. */
  refused: string | undefined;
}

const SHORT = new Map(GLOBAL_OPTIONS.filter((o) => o.short).map((o) => [o.short!, o]));
const isValue = (arg: string) => !arg.startsWith('-') || arg === '-' || DASHED_ID.test(arg);

export function parseCommandLine(argv: readonly string[]): CommandLine {
  const options: OptionToken[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (isValue(arg)) {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      const spec = arg.length === 2 ? SHORT.get(arg.slice(1)) : undefined;
      options.push({ raw: arg, name: spec?.name ?? arg.slice(1), spec, inline: undefined, value: undefined, refused: undefined });
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const spec = OPTION_KINDS.get(name);
    const token: OptionToken = { raw: `--${name}`, name, spec, inline, value: inline, refused: undefined };
    if (spec?.type === 'string' && inline === undefined) {
      const next = argv[i + 1];
      if (next !== undefined && next !== '--' && isValue(next)) {
        token.value = next;
        i++;
      } else {
        token.refused = next;
      }
    }
    options.push(token);
  }

  const flag = (name: string) => options.some((o) => o.spec?.name === name && o.inline === undefined);
  // `latchkey help clients create` is `latchkey clients create --help`.
  const help = flag('help') || positionals[0] === 'help';
  const words = positionals[0] === 'help' ? positionals.slice(1) : positionals;

  // The command: the longest run of leading words the table knows.
  const path: string[] = [];
  let command: CommandSpec | undefined;
  for (const word of words) {
    if (commandsUnder([...path, word]).length === 0) break;
    path.push(word);
    command = findCommand(path);
    if (command) break;
  }
  const unmatched = words[path.length];

  if (help) {
    if (words.length === 0) return { kind: 'help', path: [] };
    if (!command && unmatched !== undefined) throw unknownCommand(path, unmatched);
    return { kind: 'help', path };
  }
  if (flag('version')) return { kind: 'version', json: flag('json') };

  if (!command) {
    const stranger = options.find((o) => o.spec === undefined);
    const hint = `see latchkey ${path.length ? `${path.join(' ')} ` : ''}--help`;
    if (stranger) {
      const known = [...GLOBAL_OPTIONS, ...commandsUnder(path).flatMap((c) => c.options ?? [])].map((o) => o.name);
      throw new UsageError(`unknown option ${stranger.raw} (${didYouMean(stranger.name, known, '--') ?? hint})`);
    }
    if (words.length === 0) return { kind: 'none' };
    if (unmatched !== undefined) throw unknownCommand(path, unmatched);
    const next = [...new Set(commandsUnder(path).map((c) => c.path[path.length]!))];
    throw new UsageError(`${path.join(' ')} needs a command: ${next.join(', ')} (${hint})`);
  }

  // Its options, in the order given: only its own and the global ones.
  const name = command.path.join(' ');
  const hint = `see latchkey ${name} --help`;
  const allowed = new Map([...GLOBAL_OPTIONS, ...(command.options ?? [])].map((o) => [o.name, o]));
  const values: CommandArgs['values'] = {};
  for (const option of options) {
    const spec = allowed.get(option.name);
    if (!spec || !option.spec) {
      throw new UsageError(`${name} does not take ${option.raw} (${didYouMean(option.name, [...allowed.keys()], '--') ?? hint})`);
    }
    if (spec.type === 'boolean') {
      if (option.inline !== undefined) throw new UsageError(`${option.raw} takes no value (${hint})`);
      values[spec.name] = true;
    } else if (option.value === undefined) {
      throw new UsageError(
        option.refused === undefined || option.refused === '--' || /^--?[a-z-]+(?:=|$)/.test(option.refused)
          ? `${option.raw} needs a value (${hint})`
          : `${option.raw} needs a value, and "${option.refused}" looks like an option (write ${option.raw}=${option.refused} if it is the value)`,
      );
    } else if (spec.multiple) {
      const before = values[spec.name];
      values[spec.name] = [...(Array.isArray(before) ? before : []), option.value];
    } else {
      values[spec.name] = option.value;
    }
  }

  // Its arguments: exactly those its usage shows.
  const args = command.args ?? [];
  const given = positionals.slice(command.path.length);
  if (given.length < args.length) throw new UsageError(`${args[given.length]!.what} is required (${hint})`);
  if (given.length > args.length) {
    const extra = given[args.length]!;
    // `--redirect_uris` is read as a dashed id: it is more likely a misspelt option.
    const meant = extra.startsWith('--') ? didYouMean(extra.slice(2), [...allowed.keys()], '--') : undefined;
    if (meant) throw new UsageError(`${name} does not take ${extra} (${meant})`);
    throw new UsageError(`unexpected "${extra}": the usage is latchkey ${synopsis(command)}`);
  }

  for (const option of command.options ?? []) {
    const value = values[option.name];
    if (option.required && (value === undefined || (typeof value === 'string' && value.trim() === ''))) {
      throw new UsageError(`--${option.name} is required (${hint})`);
    }
  }
  return { kind: 'run', command, values, positionals };
}

function unknownCommand(path: string[], word: string): UsageError {
  const next = [...new Set(commandsUnder(path).map((c) => c.path[path.length]!))];
  const what = path.length ? `unknown ${path.join(' ')} command` : 'unknown command';
  const hint = didYouMean(word, next, '') ?? `see latchkey ${path.length ? `${path.join(' ')} ` : ''}--help`;
  return new UsageError(`${what} "${word}" (${hint})`);
}

/** `did you mean --scopes?` when one name is near `typed` (an edit or two away, or the only one it begins). */
export function didYouMean(typed: string, names: readonly string[], prefix: string): string | undefined {
  const wanted = typed.toLowerCase().replaceAll('_', '-');
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(wanted, name);
    if (distance <= Math.max(1, Math.floor(name.length / 4)) && (!best || distance < best.distance)) best = { name, distance };
  }
  if (!best && wanted !== '') {
    const starting = names.filter((n) => n.startsWith(wanted));
    if (starting.length === 1) best = { name: starting[0]!, distance: 0 };
  }
  return best ? `did you mean ${prefix}${best.name}?` : undefined;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

// What every command-line tool that takes options (the package.json scripts under shared/) shares:
// argument errors, numeric options and colour, so that all behave the same way on a terminal and in a pipe.
import { styleText } from 'node:util';

/** Exit status for a command line the tool cannot act on (unknown option, bad value, refused target). */
export const USAGE_ERROR = 2;

export function fail(tool: string, message: string, code: number = USAGE_ERROR): never {
  process.stderr.write(`${tool}: ${message}\n`);
  process.exit(code);
}

/** Runs node:util parseArgs, turning its exceptions into one line on stderr instead of a stack trace. */
export function parseOrFail<R>(tool: string, parse: () => R): R {
  try {
    return parse();
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    // parseArgs's own message for an unknown option is three lines of advice about positionals.
    const option = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'([^']+)'/.exec(message)?.[1] : undefined;
    return fail(tool, `${option ? `unknown option ${option}` : message} (see --help)`);
  }
}

export function positiveInteger(tool: string, option: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(value) || value < 1) {
    fail(tool, `--${option} must be a whole number of at least 1, got "${raw}"`);
  }
  return value;
}

export function positiveNumber(tool: string, option: string, raw: string, unit = ''): number {
  const value = Number(unit !== '' && raw.endsWith(unit) ? raw.slice(0, -unit.length) : raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
    fail(tool, `--${option} must be a number greater than 0${unit ? ` (${unit} optional)` : ''}, got "${raw}"`);
  }
  return value;
}

/** --color and --no-color win; otherwise colour only on a terminal, and never when NO_COLOR is set. */
export function wantsColor(flag: boolean | undefined, stream: NodeJS.WriteStream = process.stdout): boolean {
  if (flag !== undefined) return flag;
  return stream.isTTY === true && !process.env.NO_COLOR;
}

type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';

export function painter(on: boolean): (style: Style, text: string) => string {
  // validateStream off: the decision was already made by wantsColor, from the flags as well as the stream.
  return (style, text) => (on ? styleText(style, text, { validateStream: false }) : text);
}

/** A --lookback value as Jaeger and VictoriaLogs both read it: 15m, 1h, 2d. */
export function lookbackOrFail(tool: string, value: string): string {
  if (!/^\d+[smhd]$/.test(value)) fail(tool, `--lookback must look like 15m, 1h or 2d, got "${value}"`);
  return value;
}

/** A --trace value: 32 hex digits, in either case; returned in lower case, as the backends store it. */
export function traceIdOrFail(tool: string, value: string): string {
  const id = value.toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(id)) fail(tool, `--trace needs a trace id of 32 hex digits, got "${value}"`);
  return id;
}

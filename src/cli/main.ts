#!/usr/bin/env node
/**
 * `zego-transcode`: the operator CLI. Talks to a running service over HTTP (`--url`, else
 * ZEGO_SERVICE_URL, else http://127.0.0.1:3000) and, for `tasks stop`, to ZEGO's server API.
 *
 *   npx zego-transcode tasks show <taskId> [--app <appId>]
 *   npm run cli -- usage --app 111111 --from 2024-03-01 --to 2024-04-01 --csv
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. `--json` everywhere for scripts.
 */
import { parseArgs } from 'node:util';
import { callbackCommands } from './callbacks';
import {
  CliError,
  COMMON_OPTIONS,
  DEFAULT_SERVICE_URL,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  parseStrict,
  type CliIo,
  type Command,
  type OptionSpec,
} from './common';
import { taskCommands } from './tasks';
import { usageCommands } from './usage';

export const COMMANDS: readonly Command[] = [...taskCommands, ...usageCommands, ...callbackCommands];

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `zego-transcode: operate a running zego-transcode-lifecycle service

Usage: zego-transcode <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options of every command:
  --url <url>   the service (default: ZEGO_SERVICE_URL, else ${DEFAULT_SERVICE_URL})
  --token <t>   the admin token (default: ADMIN_TOKEN)
  --json        machine-readable output
  -h, --help    help (also: zego-transcode <command> --help)

Exit codes: 0 success, 1 failure (unreachable, not found, refused), 2 usage error.
`;
}

function groupHelp(group: string): string {
  const commands = COMMANDS.filter((c) => c.name.split(' ')[0] === group);
  return `Usage:\n${commands.map((c) => `  zego-transcode ${c.name}: ${c.summary}`).join('\n')}\n\nRun zego-transcode ${group} <command> --help for details.\n`;
}

/** The command named by the leading positionals, and how many words its name has. */
function findCommand(words: string[]): Command | undefined {
  return COMMANDS.find((c) => {
    const name = c.name.split(' ');
    return name.every((w, i) => words[i] === w);
  });
}

function report(io: CliIo, err: unknown, command: Command | undefined): number {
  if (err instanceof CliError) {
    let text = `error: ${err.message}\n`;
    if (err.hint) text += `hint: ${err.hint}\n`;
    if (err.exitCode === EXIT_USAGE && !err.hint) {
      text += `run: zego-transcode ${command ? `${command.name} ` : ''}--help\n`;
    }
    io.stderr(text);
    return err.exitCode;
  }
  io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT_FAILURE;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const allOptions: OptionSpec = Object.assign({}, COMMON_OPTIONS, ...COMMANDS.map((c) => c.options));
  // A tolerant first pass only to find the command words among the flags.
  const loose = parseArgs({ args: argv, options: allOptions, strict: false, allowPositionals: true });
  const words = loose.positionals;
  const wantsHelp = loose.values.help === true;
  const command = findCommand(words[0] === 'help' ? words.slice(1) : words);
  try {
    if (words[0] === 'help' || !command) {
      if (command) {
        io.stdout(command.help);
        return EXIT_OK;
      }
      const group = words[0] === 'help' ? words[1] : words[0];
      const isGroup = group !== undefined && COMMANDS.some((c) => c.name.split(' ')[0] === group);
      if (words.length === 0 || (words[0] === 'help' && words.length === 1)) {
        if (wantsHelp || words[0] === 'help') {
          io.stdout(generalHelp());
          return EXIT_OK;
        }
        io.stderr(generalHelp());
        return EXIT_USAGE;
      }
      if (isGroup && (wantsHelp || words[0] === 'help') && words.length <= 2) {
        io.stdout(groupHelp(group));
        return EXIT_OK;
      }
      parseStrict(argv, allOptions); // an unknown flag is the better message, when there is one
      const problem =
        isGroup && words.length === 1 ? `${group} needs a command` : `unknown command: ${words.join(' ')}`;
      io.stderr(`error: ${problem}\n${isGroup ? groupHelp(group) : 'run: zego-transcode --help\n'}`);
      return EXIT_USAGE;
    }
    const { values, positionals } = parseStrict(argv, command.options);
    if (values.help) {
      io.stdout(command.help);
      return EXIT_OK;
    }
    const args = positionals.slice(command.name.split(' ').length);
    return await command.run({ io, values, args, json: values.json === true });
  } catch (err) {
    return report(io, err, command);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

if (require.main === module) {
  const io: CliIo = {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    readStdin,
  };
  run(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}

import { passwdCommand } from './commands/passwd-command.js';
import { historyUnlockCommand } from './commands/history-unlock-command.js';
import { rotateKeyCommand } from './commands/rotate-key-command.js';
import { deleteAccountCommand } from './commands/delete-account-command.js';
import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { loginCommand, registerCommand } from './commands/account-commands.js';
import type { CliContext, GlobalOptions } from './cli-context.js';
import { UsageError } from './cli-errors.js';
import { reportOf, writeReport } from './error-report.js';
import { logoutCommand } from './commands/logout-command.js';
import { inboxCommand } from './commands/inbox-command.js';
import { listenCommand } from './commands/message-commands.js';
import { deleteCommand, editCommand, sendCommand } from './commands/send-commands.js';
import { historyCommand } from './commands/history-command.js';
import { searchCommand } from './commands/search-command.js';
import { resolveHome, loadProfile } from './profile/profile.js';
import { hiddenPrompt, text } from './terminal/prompt.js';
import { readPassword } from './terminal/password.js';
import { checkServerUrl, DEFAULT_SERVER } from './relay/server-url.js';
import { aliasCommand, verifyCommand } from './commands/trust-commands.js';
import { settingsCommand } from './commands/settings-command.js';
import { tuiCommand } from './commands/tui-command.js';
import { jsonrpcCommand } from './commands/jsonrpc-command.js';
import { groupCommand } from './commands/group-commands.js';
import { sanitizeForTerminal, terminalJson } from './terminal/terminal-text.js';

function context(program: Command): CliContext {
  let cached: Promise<string> | undefined;
  const options = () => program.opts<GlobalOptions>();
  const server = () => {
    const flag = options().server;
    if (flag !== undefined) return checkServerUrl(flag, '--server');
    const env = process.env['METACHAT_SERVER'];
    return env ? checkServerUrl(env, 'METACHAT_SERVER') : undefined;
  };
  const fromEnv = () => (process.env['METACHAT_PASSWORD'] ?? '').length > 0;
  return {
    options,
    home: () => resolveHome(options().home, process.env),
    server,
    serverOrDefault: () => server() ?? DEFAULT_SERVER,
    password: (confirm, check) =>
      (cached ??= readPassword(
        {
          fromStdin: options().passwordStdin === true,
          env: process.env,
          prompt: process.stdin.isTTY ? hiddenPrompt : undefined,
        },
        confirm,
        check,
      )),
    forgetPassword: () => {
      cached = undefined;
    },
    promptsForPassword: () => options().passwordStdin !== true && !fromEnv() && process.stdin.isTTY,
    print: (human, json) => {
      // Every line a command prints passes the one terminal sanitiser (JSON keeps the data exactly).
      process.stdout.write(
        options().json === true ? `${terminalJson(json)}\n` : `${sanitizeForTerminal(human)}\n`,
      );
    },
  };
}

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const HELP_FOOTER = `
Exit codes: 0 success, 1 runtime error (one line on stderr), 2 usage error, 130 Ctrl+C at a prompt.
The profile lives in --home, else $METACHAT_HOME, else $XDG_CONFIG_HOME/metachat, else ~/.config/metachat.
A <peer> is a 64-hex identifier, identifier#fingerprint (pins the key you were given), an alias or a known username.`;

/** Builds the `metachat` program; with `json` commander's own error text is left to the JSON report. */
export function buildProgram(json = false): Command {
  const program = new Command('metachat')
    .description('MetaChat: end-to-end encrypted chat through a relay that cannot read it.')
    .usage('[options] [command]')
    .version(version, '-V, --version', 'print the version')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', HELP_FOOTER)
    .addOption(
      new Option('--server <url>', `relay URL (env METACHAT_SERVER, default ${DEFAULT_SERVER})`),
    )
    .addOption(
      new Option(
        '--home <dir>',
        'profile directory (env METACHAT_HOME, default $XDG_CONFIG_HOME/metachat or ~/.config/metachat)',
      ),
    )
    .option('--json', 'print machine-readable JSON')
    .option(
      '--password-stdin',
      'read the password from the first line of standard input (METACHAT_PASSWORD also works, but other processes may see it)',
    )
    .showHelpAfterError()
    .exitOverride();
  if (json) program.configureOutput({ outputError: () => undefined, writeErr: () => undefined });
  const ctx = context(program);
  // A relay URL that is not one is a usage error for every command, before anything is asked.
  program.hook('preAction', () => {
    ctx.server();
  });

  program.argument('[command]').action(async (command: string | undefined) => {
    if (command !== undefined)
      throw new UsageError(`Unknown command "${command.slice(0, 40)}"; see --help.`);
    await tuiCommand(ctx, undefined);
  });

  program
    .command('chat')
    .description('open the chat screen (the inbox, or straight into one conversation)')
    .argument('[peer]', 'identifier, identifier#fingerprint, alias or known username')
    .action(async (peer: string | undefined) => {
      await tuiCommand(ctx, peer);
    });

  program
    .command('register')
    .description('create an account: keys are made and wrapped here, the relay gets neither')
    .argument('[username]')
    .option('--no-share-username', 'do not send my username to the people I write to')
    .option(
      '--force',
      'replace the account this --home already holds (its pins, marks and aliases)',
    )
    .action(
      async (username: string | undefined, opts: { shareUsername: boolean; force?: boolean }) => {
        await registerCommand(ctx, username, opts);
      },
    );

  program
    .command('login')
    .description('set up this device from the password alone')
    .argument('[username]')
    .option('--no-share-username', 'do not send my username to the people I write to')
    .option(
      '--force',
      'replace the account this --home already holds (its pins, marks and aliases)',
    )
    .action(
      async (username: string | undefined, opts: { shareUsername: boolean; force?: boolean }) => {
        await loginCommand(ctx, username, opts);
      },
    );

  program
    .command('passwd')
    .description(
      'change the password: asks the current one, then the new one (--password-stdin: two lines)',
    )
    .action(async () => {
      await passwdCommand(ctx);
    });

  program
    .command('rotate-key')
    .description(
      'replace this account’s key pair; contacts accept the new one because the old key signs it',
    )
    .action(async () => {
      await rotateKeyCommand(ctx);
    });

  program
    .command('delete-account')
    .description(
      'delete this account on the relay (says first what goes and what stays; asks you to type your username, then the password)',
    )
    .option('--confirm <username>', 'the account’s username, instead of typing it (for scripts)')
    .action(async (opts: { confirm?: string }) => {
      await deleteAccountCommand(ctx, opts.confirm, process.stdin.isTTY ? text : undefined);
    });

  program
    .command('whoami')
    .description('show this device’s account')
    .action(async () => {
      const profile = await loadProfile(ctx.home());
      const { importPublicKey } = await import('../core/index.js');
      const fingerprint = importPublicKey(profile.publicKey).fingerprint;
      ctx.print(
        `${profile.username}\nidentifier:  ${profile.identifier}\nfingerprint: ${fingerprint}\nserver:      ${profile.server}`,
        {
          username: profile.username,
          id: profile.identifier,
          fingerprint,
          server: profile.server,
        },
      );
    });

  program
    .command('logout')
    .description('forget the account on this device (the relay keeps it)')
    .option('--discard-unsent', 'also drop messages the chat screen has not sent yet')
    .action(async (opts: { discardUnsent?: boolean }) => {
      await logoutCommand(ctx, opts.discardUnsent === true);
    });

  program
    .command('send')
    .description('send a message; exits 0 once the relay has stored it')
    .argument(
      '<peer>',
      'identifier, identifier#fingerprint, alias or known username; or group:<group> (id, 4+ hex prefix or name)',
    )
    .argument('<text...>', 'the message, or - to read it from standard input')
    .option('--reply-to <id>', 'reply to the message with this packet id (it is quoted)')
    .action(async (peer: string, text: string[], opts: { replyTo?: string }) => {
      await sendCommand(ctx, peer, text, opts);
    });

  program
    .command('edit')
    .description(
      'new text for one of my messages (its packet id); receivers show it with (edited), and the relay keeps the old ciphertext',
    )
    .argument('<peer>', 'a peer, or group:<group>')
    .argument('<id>', 'the packet id of my message (as send and history print)')
    .argument('<text...>', 'the new text, or - to read it from standard input')
    .action(async (peer: string, id: string, text: string[]) => {
      await editCommand(ctx, peer, id, text);
    });

  program
    .command('delete')
    .description(
      'hide one of my messages for everyone (its packet id): the relay keeps its ciphertext, and whoever already read it may keep a copy',
    )
    .argument('<peer>', 'a peer, or group:<group>')
    .argument('<id>', 'the packet id of my message')
    .action(async (peer: string, id: string) => {
      await deleteCommand(ctx, peer, id);
    });

  program
    .command('history')
    .description(
      'verified, decrypted messages with a peer (or group:<group>), oldest first: from this device at once, then caught up from the relay',
    )
    .argument('<peer>', 'a peer, or group:<group>')
    .addOption(new Option('--limit <n>', 'how many').default(50).argParser((v) => parseLimit(v)))
    .addOption(
      new Option('--before <seq>', 'only messages before this place (paging back)').argParser((v) =>
        parseSeq(v),
      ),
    )
    .addOption(
      new Option(
        '--around <id>',
        'the page around this packet id (from metachat search)',
      ).conflicts('before'),
    )
    .action(async (peer: string, opts: { limit: number; before?: number; around?: string }) => {
      await historyCommand(ctx, peer, opts);
    });

  program
    .command('search')
    .description(
      "full-text search of this device's local history, newest first (all words must occur)",
    )
    .argument('<words...>')
    .option('--peer <peer>', 'only the conversation with this peer (or group:<group>)')
    .addOption(new Option('--limit <n>', 'how many').default(50).argParser((v) => parseLimit(v)))
    .action(async (words: string[], opts: { peer?: string; limit: number }) => {
      await searchCommand(ctx, words.join(' '), opts);
    });

  program
    .command('history-unlock')
    .description(
      'copy a history a login kept aside (history.db.locked-<day>) into the local history: asks the current password, then the one it was made under',
    )
    .argument('<file>')
    .action(async (file: string) => {
      await historyUnlockCommand(ctx, file);
    });

  program
    .command('listen')
    .description('print incoming verified messages as JSON lines until interrupted')
    .action(async () => {
      await listenCommand(ctx);
    });

  program
    .command('jsonrpc')
    .description(
      'stay unlocked and answer JSON-RPC 2.0 on standard input/output, one request per line (send, history, inbox, search, verify), with notifications (message, receipt, presence, warning)',
    )
    .option(
      '--socket <path>',
      'listen on a new Unix socket (mode 0600) instead of standard input/output',
    )
    .addHelpText(
      'after',
      `
Example (a bot loop): the password is the first line, each request one line after it:
  { echo "$PASSWORD"; echo '{"jsonrpc":"2.0","id":1,"method":"send","params":{"peer":"bob","text":"hi"}}'; cat; } \
    | metachat jsonrpc --password-stdin
Errors are {"code":<JSON-RPC code>,"message":…,"data":{"code":"KEY_CHANGED"}}: -32700 parse error, -32600 invalid
request (or a line over 128 KiB), -32601 method not found, -32602 invalid params, -32000 a MetaChat failure
(data.code is the protocol's code, docs/protocol.md section 12). search answers NOT_AVAILABLE for now.
Ctrl+C, SIGTERM or the end of standard input: the sends in flight finish, the profile is saved, exit 0.`,
    )
    .action(async (opts: { socket?: string }) => {
      await jsonrpcCommand(ctx, opts.socket === undefined ? {} : { socket: opts.socket });
    });

  program
    .command('inbox')
    .description('conversations with unread counts, last activity and presence')
    .action(async () => {
      await inboxCommand(ctx);
    });

  program
    .command('verify')
    .description('show the safety number to compare with a peer; --trust accepts a changed key')
    .argument('<peer>')
    .option('--trust', 'accept the key the relay serves now')
    .action(async (peer: string, opts: { trust?: boolean }) => {
      await verifyCommand(ctx, peer, opts.trust === true);
    });

  program
    .command('settings')
    .description('show this device’s settings, or turn one on or off (share-username, bell)')
    .argument('[name]')
    .argument('[value]', 'on or off')
    .action(async (name: string | undefined, value: string | undefined) => {
      await settingsCommand(ctx, name, value);
    });

  program
    .command('alias')
    .description('give a peer a local nickname')
    .argument('<peer>')
    .argument('<name>')
    .action(async (peer: string, name: string) => {
      await aliasCommand(ctx, peer, name);
    });

  groupCommand(program, ctx);

  return program;
}

function parseSeq(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new UsageError('--before must be a place in the stream, a whole number from 1.');
  return n;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500)
    throw new UsageError('--limit must be a whole number from 1 to 500.');
  return n;
}

/** Runs the CLI and maps every failure to one line on stderr and an exit code (1 runtime, 2 usage, 130 Ctrl+C). */
export async function main(argv: string[]): Promise<number> {
  // Known before parsing, so even a usage error commander finds is reported as JSON.
  const json = argv.slice(2).includes('--json');
  const program = buildProgram(json);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const report = reportOf(error);
    writeReport(report, json);
    return report.exitCode;
  }
}

import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { InvalidUsernameError, MetaChatError, normalizeUsername } from '../core/index.js';
import { loginAccount, newProfile, prepareRegistration } from './account.js';
import {
  KeyChangedError,
  UnknownPeerError,
  UnsentMessagesError,
  UsageError,
  WrappedKeyRejectedError,
} from './cli-errors.js';
import { logoutCommand } from './logout-command.js';
import { OutboxCorruptError } from './outbox.js';
import { ProfileBusyError } from './profile-lock.js';
import { ProfileReplacedError } from './profile-merge.js';
import { inboxCommand } from './inbox-command.js';
import { historyCommand, listenCommand, sendCommand } from './message-commands.js';
import {
  NoProfileError,
  ProfileCorruptError,
  resolveHome,
  saveProfile,
  loadProfile,
} from './profile.js';
import { hiddenPrompt } from './prompt.js';
import { readPassword } from './password.js';
import { aliasCommand, verifyCommand } from './trust-commands.js';
import { settingsCommand } from './settings-command.js';
import { withSpinner } from './spinner.js';
import { tuiCommand } from './tui-command.js';
import {
  RelayClient,
  RelayRefusedError,
  RelayTimeoutError,
  RelayUnreachableError,
} from './relay-client.js';

/** Options every command accepts, before or after its name. */
export interface GlobalOptions {
  server?: string;
  home?: string;
  json?: boolean;
  passwordStdin?: boolean;
}

const DEFAULT_SERVER = 'http://127.0.0.1:7373';

/** What each command needs from the process, so tests can run it for real as a child process. */
export interface CliContext {
  readonly options: () => GlobalOptions;
  readonly home: () => string;
  readonly server: () => string | undefined;
  readonly password: (confirm: boolean) => Promise<string>;
  readonly print: (human: string, json: unknown) => void;
}

function context(program: Command): CliContext {
  let cached: Promise<string> | undefined;
  const options = () => program.opts<GlobalOptions>();
  return {
    options,
    home: () => resolveHome(options().home, process.env),
    server: () => options().server ?? process.env['METACHAT_SERVER'],
    password: (confirm) =>
      (cached ??= readPassword(
        {
          fromStdin: options().passwordStdin === true,
          env: process.env,
          prompt: process.stdin.isTTY ? hiddenPrompt : undefined,
        },
        confirm,
      )),
    print: (human, json) => {
      process.stdout.write(options().json === true ? `${JSON.stringify(json)}\n` : `${human}\n`);
    },
  };
}

/** The username from the argument or a prompt, checked before any password is asked for. */
async function askUsername(given: string | undefined): Promise<string> {
  let name = given;
  if (name === undefined) {
    if (!process.stdin.isTTY) throw new UsageError('Give the username as an argument.');
    const { text } = await import('./prompt.js');
    name = await text('Username: ');
  }
  try {
    return normalizeUsername(name);
  } catch (error) {
    if (error instanceof InvalidUsernameError) throw new UsageError(error.message);
    throw error;
  }
}

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const HELP_FOOTER = `
Exit codes: 0 success, 1 runtime error (one line on stderr), 2 usage error.
The profile lives in --home, else $METACHAT_HOME, else $XDG_CONFIG_HOME/metachat, else ~/.config/metachat.
A <peer> is a 64-hex identifier, identifier#fingerprint (pins the key you were given), an alias or a known username.`;

/** Builds the `metachat` program. */
export function buildProgram(): Command {
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
  const ctx = context(program);

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
    .action(async (username: string | undefined, opts: { shareUsername: boolean }) => {
      const name = await askUsername(username);
      const password = await ctx.password(true);
      const server = ctx.server() ?? DEFAULT_SERVER;
      const { account, request } = await withSpinner(
        'Generating your key pair and deriving keys from your password',
        () => prepareRegistration(name, password),
      );
      const client = await RelayClient.connect(server);
      try {
        await client.register(request);
        await saveProfile(ctx.home(), newProfile(account, server, opts.shareUsername));
        ctx.print(
          `Registered.\nidentifier:  ${account.identifier}\nfingerprint: ${account.keyPair.publicKey.fingerprint}`,
          { id: account.identifier, fingerprint: account.keyPair.publicKey.fingerprint },
        );
      } finally {
        client.close();
      }
    });

  program
    .command('login')
    .description('set up this device from the password alone')
    .argument('[username]')
    .option('--no-share-username', 'do not send my username to the people I write to')
    .action(async (username: string | undefined, opts: { shareUsername: boolean }) => {
      const name = await askUsername(username);
      const password = await ctx.password(false);
      const server = ctx.server() ?? DEFAULT_SERVER;
      const client = await RelayClient.connect(server);
      try {
        const account = await withSpinner('Deriving keys from your password and logging in', () =>
          loginAccount(client, name, password),
        );
        await saveProfile(ctx.home(), newProfile(account, server, opts.shareUsername));
        ctx.print(`Logged in as ${account.username} (${account.identifier}).`, {
          id: account.identifier,
          fingerprint: account.keyPair.publicKey.fingerprint,
        });
      } finally {
        client.close();
      }
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
    .argument('<peer>', 'identifier, identifier#fingerprint, alias or known username')
    .argument('<text...>', 'the message, or - to read it from standard input')
    .action(async (peer: string, text: string[]) => {
      await sendCommand(ctx, peer, text);
    });

  program
    .command('history')
    .description('verified, decrypted messages with a peer, oldest first')
    .argument('<peer>')
    .addOption(new Option('--limit <n>', 'how many').default(50).argParser((v) => parseLimit(v)))
    .action(async (peer: string, opts: { limit: number }) => {
      await historyCommand(ctx, peer, opts.limit);
    });

  program
    .command('listen')
    .description('print incoming verified messages as JSON lines until interrupted')
    .action(async () => {
      await listenCommand(ctx);
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

  return program;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500)
    throw new UsageError('--limit must be a whole number from 1 to 500.');
  return n;
}

/** Runs the CLI and maps every failure to one line on stderr and an exit code (1 runtime, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const usage = error instanceof UsageError || error instanceof UnknownPeerError;
    const known =
      usage ||
      error instanceof MetaChatError ||
      error instanceof RelayRefusedError ||
      error instanceof RelayTimeoutError ||
      error instanceof RelayUnreachableError ||
      error instanceof NoProfileError ||
      error instanceof ProfileCorruptError ||
      error instanceof KeyChangedError ||
      error instanceof WrappedKeyRejectedError ||
      error instanceof UnsentMessagesError ||
      error instanceof OutboxCorruptError ||
      error instanceof ProfileReplacedError ||
      error instanceof ProfileBusyError;
    const message = known
      ? (error as Error).message
      : `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
    process.stderr.write(`metachat: ${message}\n`);
    return usage ? 2 : 1;
  }
}

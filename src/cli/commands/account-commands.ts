import {
  assertPasswordAcceptable,
  InvalidUsernameError,
  normalizeUsername,
} from '../../core/index.js';
import { loginAccount, newProfile, prepareRegistration } from '../relay/account.js';
import { UsageError } from '../cli-errors.js';
import { describeLoss, guardHome, type AccountAtHome } from '../profile/home-guard.js';
import type { CliContext } from '../cli-context.js';
import { saveOutbox } from '../outgoing/outbox.js';
import { saveProfile } from '../profile/profile.js';
import { RelayClient } from '../relay/relay-client.js';
import { withSpinner } from '../terminal/spinner.js';

/** What `register` and `login` accept besides the username. */
export interface AccountOptions {
  readonly shareUsername: boolean;
  readonly force?: boolean;
}

/** The username from the argument or a prompt, checked before any password is asked for. */
async function askUsername(given: string | undefined): Promise<string> {
  let name = given;
  if (name === undefined) {
    if (!process.stdin.isTTY) throw new UsageError('Give the username as an argument.');
    const { text } = await import('../terminal/prompt.js');
    name = await text('Username: ');
  }
  try {
    return normalizeUsername(name);
  } catch (error) {
    if (error instanceof InvalidUsernameError) throw new UsageError(error.message);
    throw error;
  }
}

/** Fails now, before any prompt or key generation, if the relay cannot be reached. */
async function assertReachable(server: string): Promise<void> {
  (await RelayClient.connect(server)).close();
}

/** After --force: the old account's queued packets cannot be sent as the new one, and the user is told. */
async function replaced(home: string, previous: AccountAtHome | 'damaged' | null): Promise<void> {
  if (previous === null) return;
  await saveOutbox(home, []);
  process.stderr.write(
    previous === 'damaged'
      ? `metachat: replaced the damaged profile in ${home}.\n`
      : `metachat: replaced the account ${previous.username} in ${home}; its ${describeLoss(previous)} are gone.\n`,
  );
}

/** `register`: checks the home, the relay and the password first, then makes and wraps the keys. */
export async function registerCommand(
  ctx: CliContext,
  username: string | undefined,
  opts: AccountOptions,
): Promise<void> {
  const name = await askUsername(username);
  const home = ctx.home();
  const previous = await guardHome(home, opts.force === true, 'register');
  const server = ctx.serverOrDefault();
  await assertReachable(server);
  const password = await ctx.password(true, assertPasswordAcceptable);
  const { account, request } = await withSpinner(
    'Generating your key pair and deriving keys from your password',
    () => prepareRegistration(name, password),
  );
  const client = await RelayClient.connect(server);
  try {
    await client.register(request);
  } finally {
    client.close();
  }
  await saveProfile(home, newProfile(account, server, opts.shareUsername));
  await replaced(home, previous);
  ctx.print(
    `Registered.\nidentifier:  ${account.identifier}\nfingerprint: ${account.keyPair.publicKey.fingerprint}`,
    { id: account.identifier, fingerprint: account.keyPair.publicKey.fingerprint },
  );
}

/** `login`: a new device from the password alone; the home and the relay are checked before the prompt. */
export async function loginCommand(
  ctx: CliContext,
  username: string | undefined,
  opts: AccountOptions,
): Promise<void> {
  const name = await askUsername(username);
  const home = ctx.home();
  const previous = await guardHome(home, opts.force === true, 'login');
  const server = ctx.serverOrDefault();
  await assertReachable(server);
  const password = await ctx.password(false);
  const client = await RelayClient.connect(server);
  let account;
  try {
    account = await withSpinner('Deriving keys from your password and logging in', () =>
      loginAccount(client, name, password),
    );
  } finally {
    client.close();
  }
  await saveProfile(home, newProfile(account, server, opts.shareUsername));
  await replaced(home, previous);
  ctx.print(`Logged in as ${account.username} (${account.identifier}).`, {
    id: account.identifier,
    fingerprint: account.keyPair.publicKey.fingerprint,
  });
}

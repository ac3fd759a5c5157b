import {
  assertPasswordAcceptable,
  InvalidUsernameError,
  normalizeUsername,
  type KeyPair,
} from '../../core/index.js';
import { loginAccount, newProfile, prepareRegistration } from '../relay/account.js';
import { UsageError, UsernameTakenError } from '../cli-errors.js';
import { describeLoss, guardHome, type AccountAtHome } from '../profile/home-guard.js';
import type { CliContext } from '../cli-context.js';
import { saveOutbox } from '../outgoing/outbox.js';
import { loadProfile, saveProfile, type Profile } from '../profile/profile.js';
import { carryOrSetAsideHistory } from '../history/history-aside.js';
import type { Account } from '../relay/account.js';
import { RelayClient, RelayRefusedError } from '../relay/relay-client.js';
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

/**
 * Saves the new profile of a login or registration; over another one (--force), first carries the
 * local history on (same account, a key that opens) or keeps it aside, and says so.
 */
async function saveOver(
  home: string,
  previous: AccountAtHome | 'damaged' | null,
  next: Profile,
  account: Pick<Account, 'historyWrapKey'>,
): Promise<void> {
  let old: Profile | undefined;
  try {
    old = await loadProfile(home);
  } catch {
    old = undefined;
  }
  const said = await carryOrSetAsideHistory(home, old, next, account.historyWrapKey);
  await saveProfile(home, next);
  await replaced(home, previous);
  if (said !== null) process.stderr.write(`metachat: ${said}\n`);
}

/** How many usernames `register` tries at a terminal (the relay allows 3 registrations a connection). */
const USERNAME_TRIES = 3;

/** What to do about a taken username: choose another, or log in if it is one's own. */
function takenText(name: string, server: string): string {
  return `The username "${name}" is already registered on ${server}: choose another, or run "metachat login ${name}" if it is yours.`;
}

/**
 * `register`: checks the home, the relay and the password first, then makes and wraps the keys.
 * Whether the username is free is learned only from the registration (the relay has no cheaper
 * check, so it cannot be asked who uses it); at a terminal a taken name is followed by a prompt
 * for another, with the same password and key pair, so neither is asked for or made again.
 */
export async function registerCommand(
  ctx: CliContext,
  username: string | undefined,
  opts: AccountOptions,
): Promise<void> {
  let name = await askUsername(username);
  const home = ctx.home();
  const previous = await guardHome(home, opts.force === true, 'register');
  const server = ctx.serverOrDefault();
  await assertReachable(server);
  const password = await ctx.password(true, assertPasswordAcceptable);
  const client = await RelayClient.connect(server);
  let account;
  try {
    let keyPair: KeyPair | undefined;
    for (let attempt = 1; ; attempt++) {
      const prepared = await withSpinner(
        keyPair === undefined
          ? 'Generating your key pair and deriving keys from your password'
          : 'Deriving keys from your password',
        () => prepareRegistration(name, password, keyPair),
      );
      keyPair = prepared.account.keyPair;
      try {
        await client.register(prepared.request);
        account = prepared.account;
        break;
      } catch (error) {
        if (!(error instanceof RelayRefusedError && error.code === 'ALREADY_REGISTERED'))
          throw error;
        if (!ctx.promptsForPassword() || attempt >= USERNAME_TRIES) {
          throw new UsernameTakenError(`${takenText(name, server)} Nothing was saved.`);
        }
        process.stderr.write(`${takenText(name, server)}\n`);
        name = await askUsername(undefined);
      }
    }
  } finally {
    client.close();
  }
  await saveOver(home, previous, newProfile(account, server, opts.shareUsername), account);
  ctx.print(
    `Registered.\nidentifier:  ${account.identifier}\nfingerprint: ${account.keyPair.publicKey.fingerprint}`,
    { id: account.identifier, fingerprint: account.keyPair.publicKey.fingerprint },
  );
}

/** The newest credentials generation the profile at home saw for this username (0 if none). */
async function seenGeneration(home: string, username: string): Promise<number> {
  try {
    const profile = await loadProfile(home);
    return profile.username === username ? (profile.credentialsGeneration ?? 0) : 0;
  } catch {
    return 0;
  }
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
  const seen = await seenGeneration(home, name);
  const password = await ctx.password(false);
  const client = await RelayClient.connect(server);
  let account;
  try {
    account = await withSpinner('Deriving keys from your password and logging in', () =>
      loginAccount(client, name, password, seen),
    );
  } finally {
    client.close();
  }
  await saveOver(home, previous, newProfile(account, server, opts.shareUsername), account);
  ctx.print(`Logged in as ${account.username} (${account.identifier}).`, {
    id: account.identifier,
    fingerprint: account.keyPair.publicKey.fingerprint,
  });
}

import {
  addMemberEntry,
  createGroupEntry,
  groupHead,
  GroupMembershipInvalidError,
  GroupNotAdminError,
  GroupNotMemberError,
  leaveGroupEntry,
  MetaChatError,
  removeMemberEntry,
  renameGroupEntry,
  type GroupEntry,
  type GroupLog,
  type PublicKey,
} from '../../core/index.js';
import { KeyChangedError, UsageError } from '../cli-errors.js';
import { heldGroupLog, heldGroupName } from '../profile/group-store.js';
import {
  firstContactNotice,
  noSuchUser,
  parsePeerAddress,
  peerKey,
  usernameNotice,
  type PeerAddress,
} from '../profile/peers.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';
import { peerLabel } from '../stream/peer-label.js';
import { discoverGroups } from './group-discovery.js';
import { GroupKeyring, type MemberKeyState } from './group-keyring.js';
import { applyOwnEntry, syncGroupLog } from './group-sync.js';

/** What a command tells the user on stderr (first contacts, username notices, warnings). */
export type Notify = (line: string) => void;

/** The group as a command shows it: id, name and the state at the verified head. */
export interface GroupView {
  readonly group: string;
  readonly name: string | undefined;
  readonly head: number;
  readonly members: readonly string[];
  readonly admins: readonly string[];
}

/** The view of a verified log, with the name this device read for it. */
export function viewOf(session: Pick<Session, 'profile'>, log: GroupLog): GroupView {
  const head = groupHead(log);
  return {
    group: log.group,
    name: heldGroupName(session.profile, log.group),
    head: head.index,
    members: head.members,
    admins: head.admins,
  };
}

/** A group's name for messages: the one read, else a short id. */
export function groupTitle(session: Pick<Session, 'profile'>, group: string): string {
  const name = heldGroupName(session.profile, group);
  return name === undefined ? `${group.slice(0, 16)}…` : `"${name}"`;
}

/** A member named on the command line, with its key checked against this device's pin. */
async function memberKey(
  session: Session,
  arg: string,
  notify: Notify,
): Promise<{ identifier: string; publicKey: PublicKey }> {
  const address: PeerAddress = parsePeerAddress(arg, session.profile);
  const notice = usernameNotice(address);
  if (notice !== null) notify(notice);
  const firstContact = session.profile.peers[address.identifier]?.publicKey === undefined;
  let publicKey: PublicKey;
  try {
    publicKey = await peerKey(session.client, session.profile, address);
  } catch (error) {
    if (
      address.username !== undefined &&
      error instanceof RelayRefusedError &&
      error.code === 'UNKNOWN_IDENTIFIER'
    )
      throw noSuchUser({ ...address, username: address.username });
    if (error instanceof KeyChangedError)
      throw new KeyChangedError(
        `${peerLabel(session.profile, address.identifier).name} blocks this group change: ${error.message}`,
      );
    throw error;
  }
  if (firstContact && address.identifier !== session.account.identifier)
    notify(firstContactNotice(address.identifier, publicKey, arg.trim()));
  return { identifier: address.identifier, publicKey };
}

/** The members named on the command line, each once; this device's own account is left out. */
function distinctMembers(session: Session, args: readonly string[]): string[] {
  const seen = new Set<string>();
  return args.filter((arg) => {
    const { identifier } = parsePeerAddress(arg, session.profile);
    if (identifier === session.account.identifier || seen.has(identifier)) return false;
    seen.add(identifier);
    return true;
  });
}

/** Refuses a change before signing it when this device's verified head says it cannot be made. */
function requireRole(session: Session, log: GroupLog, admin: boolean): void {
  const head = groupHead(log);
  const me = session.account.identifier;
  const title = groupTitle(session, log.group);
  if (!head.members.includes(me))
    throw new GroupNotMemberError(`You are not a member of ${title} (removed, or you left).`);
  if (admin && !head.admins.includes(me))
    throw new GroupNotAdminError(
      `You are not an admin of ${title}: only an admin may add, remove or rename. Ask one of its admins.`,
    );
}

/**
 * Signs a change against the verified head, has the relay store it, and keeps the log with it. A
 * relay that stored another change at that place first answers GROUP_CHAIN_BROKEN: the log is
 * fetched again and the change made once more, against the new head.
 */
async function appendChange(
  session: Session,
  keyring: GroupKeyring,
  start: GroupLog,
  make: (log: GroupLog) => GroupEntry | Promise<GroupEntry>,
): Promise<GroupLog> {
  let log = start;
  for (let attempt = 0; ; attempt++) {
    const entry = await make(log);
    try {
      await session.client.groupAppend(entry);
      return applyOwnEntry(session, keyring, log, entry);
    } catch (error) {
      if (attempt > 0 || !(error instanceof RelayRefusedError)) throw error;
      if (error.code !== 'GROUP_CHAIN_BROKEN') throw error;
      log = await syncGroupLog(session, keyring, log.group);
    }
  }
}

/** `group create`: a new group of this account and the members named, under a name only they read. */
export async function createGroup(
  session: Session,
  name: string,
  memberArgs: readonly string[],
  notify: Notify,
): Promise<GroupView> {
  const others: { identifier: string; publicKey: PublicKey }[] = [];
  for (const arg of distinctMembers(session, memberArgs))
    others.push(await memberKey(session, arg, notify));
  const keyring = new GroupKeyring(session);
  const entry = createGroupEntry(keyring.actor(), others, name);
  await session.client.groupAppend(entry);
  const log = applyOwnEntry(session, keyring, null, entry);
  return viewOf(session, log);
}

/** Opens a group for a change: its log brought up to the relay's, verified. */
async function current(session: Session, group: string) {
  const keyring = new GroupKeyring(session);
  const log = await syncGroupLog(session, keyring, group);
  return { keyring, log };
}

/** `group add`: an admin adds members, each with the key this device pinned for it. */
export async function addMembers(
  session: Session,
  group: string,
  memberArgs: readonly string[],
  notify: Notify,
): Promise<GroupView> {
  const opened = await current(session, group);
  const { keyring } = opened;
  let { log } = opened;
  requireRole(session, log, true);
  for (const arg of distinctMembers(session, memberArgs)) {
    const member = await memberKey(session, arg, notify);
    if (groupHead(log).members.includes(member.identifier)) {
      notify(`${peerLabel(session.profile, member.identifier).name} is a member already.`);
      continue;
    }
    log = await appendChange(session, keyring, log, (at) => {
      requireRole(session, at, true);
      return addMemberEntry(at, keyring.actor(), member, keyring.lookup);
    });
  }
  return viewOf(session, log);
}

/** `group remove`: an admin removes members (its own account leaves with `group leave`). */
export async function removeMembers(
  session: Session,
  group: string,
  memberArgs: readonly string[],
): Promise<GroupView> {
  const opened = await current(session, group);
  const { keyring } = opened;
  let { log } = opened;
  requireRole(session, log, true);
  for (const arg of memberArgs) {
    const { identifier } = parsePeerAddress(arg, session.profile);
    if (identifier === session.account.identifier)
      throw new UsageError('To remove yourself, leave: metachat group leave <group>.');
    if (!groupHead(log).members.includes(identifier)) {
      throw new GroupMembershipInvalidError(
        `${peerLabel(session.profile, identifier).name} is not a member of ${groupTitle(session, group)}.`,
      );
    }
    log = await appendChange(session, keyring, log, (at) => {
      requireRole(session, at, true);
      return removeMemberEntry(at, keyring.actor(), identifier, keyring.lookup);
    });
  }
  return viewOf(session, log);
}

/** `group leave`: this account leaves; the last admin leaving freezes the membership, and is told so. */
export async function leaveGroup(
  session: Session,
  group: string,
  notify: Notify,
): Promise<GroupView> {
  const { keyring, log } = await current(session, group);
  requireRole(session, log, false);
  const head = groupHead(log);
  const me = session.account.identifier;
  if (head.admins.length === 1 && head.admins[0] === me && head.members.length > 1)
    notify(
      `You were the last admin of ${groupTitle(session, group)}: nobody can add, remove or rename any more.`,
    );
  const left = await appendChange(session, keyring, log, (at) => {
    requireRole(session, at, false);
    return leaveGroupEntry(at, keyring.actor(), keyring.lookup);
  });
  return viewOf(session, left);
}

/**
 * `group rename`: an admin encrypts a new name for every member now, each with its key checked
 * (KEY_CHANGED or GROUP_KEY_MISMATCH name the member who blocks).
 */
export async function renameGroup(
  session: Session,
  group: string,
  name: string,
): Promise<GroupView> {
  const { keyring, log } = await current(session, group);
  requireRole(session, log, true);
  const renamed = await appendChange(session, keyring, log, async (at) => {
    requireRole(session, at, true);
    const keys = await keyring.encryptionKeys(
      groupHead(at),
      `renaming ${groupTitle(session, group)}`,
    );
    return renameGroupEntry(at, keyring.actor(), name, (id) => keys.get(id) ?? keyring.lookup(id));
  });
  return viewOf(session, renamed);
}

/** One member as `group members` lists it. */
export interface MemberView {
  readonly id: string;
  readonly name: string;
  readonly admin: boolean;
  readonly key: MemberKeyState;
}

/**
 * `group members`: the members at the verified head, each key checked as a send would check it
 * (the relay's answer against the pin and against the fingerprint the log names), without stopping
 * at the first that fails: the list says which member would block a send.
 */
export async function groupMembers(
  session: Session,
  group: string,
): Promise<{ view: GroupView; members: MemberView[] }> {
  const { keyring, log } = await current(session, group);
  const view = viewOf(session, log);
  const members: MemberView[] = [];
  for (const id of view.members) {
    const state = await keyring.memberState(groupHead(log), id);
    const name = id === session.account.identifier ? 'me' : peerLabel(session.profile, id).name;
    members.push({ id, name, admin: view.admins.includes(id), key: state });
  }
  return { view, members };
}

/**
 * `group list`: every group this device holds, and those the relay lists that it did not hold
 * (verified first), each brought up to the relay's log.
 */
export async function listGroups(session: Session, notify: Notify): Promise<GroupView[]> {
  const views: GroupView[] = [];
  const held = new Set(Object.keys(session.profile.groups ?? {}));
  await discoverGroups(session, notify);
  for (const group of Object.keys(session.profile.groups ?? {})) {
    if (!held.has(group)) {
      const log = heldGroupLog(session.profile, group);
      if (log !== null) views.push(viewOf(session, log));
      continue;
    }
    try {
      const { log } = await current(session, group);
      views.push(viewOf(session, log));
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      const held = heldGroupLog(session.profile, group);
      const code = error instanceof MetaChatError ? `${error.code}: ` : '';
      notify(
        `!! ${groupTitle(session, group)}: its log could not be brought up to date (${code}${error.message}); showing what this device verified.`,
      );
      if (held !== null) views.push(viewOf(session, held));
    }
  }
  return views;
}

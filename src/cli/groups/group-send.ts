import {
  groupHead,
  GroupNotMemberError,
  sealGroupMessage,
  type Body,
  type GroupLog,
  type GroupPacket,
} from '../../core/index.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import { messageBody, type MessageBody } from '../outgoing/compose.js';
import type { Session } from '../relay/session.js';
import { GroupKeyring } from './group-keyring.js';
import { groupTitle } from './group-operations.js';
import { syncGroupLog } from './group-sync.js';

/** Relay refusals that mean this device's head is stale: fetch the log, seal again, once. */
const STALE_HEAD = new Set([
  'GROUP_HEAD_UNKNOWN',
  'GROUP_CHAIN_BROKEN',
  'GROUP_MEMBERSHIP_INVALID',
]);

/** What a group send answers: the last message's id and its place in my stream. */
export interface GroupSent {
  readonly group: string;
  readonly id: string;
  readonly seq: number;
  readonly head: number;
}

/** Whether my username has not yet gone to every member at the head (a `hello` first, then). */
function helloDue(session: Session, log: GroupLog): boolean {
  if (!session.profile.shareUsername) return false;
  const at = session.profile.groups?.[log.group]?.helloAt;
  const told = at === undefined ? undefined : log.entries[at]?.members;
  if (told === undefined) return true;
  return groupHead(log).members.some((member) => !told.includes(member));
}

/**
 * Seals a body for every member at the head of the log this device verified: each member's key
 * checked first against its pin (KEY_CHANGED, naming who blocks the send) and against the key the
 * log names (GROUP_KEY_MISMATCH); a member never met takes the relay's key only if the log names it.
 */
async function seal(
  session: Session,
  keyring: GroupKeyring,
  log: GroupLog,
  bodies: readonly Body[],
): Promise<GroupPacket[]> {
  const head = groupHead(log);
  const title = groupTitle(session, log.group);
  if (!head.members.includes(session.account.identifier))
    throw new GroupNotMemberError(
      `You are not a member of ${title} (removed, or you left): nothing was sent.`,
    );
  const keys = await keyring.encryptionKeys(head, `sending to ${title}`);
  const sender = { identifier: session.account.identifier, keyPair: session.account.keyPair };
  return bodies.map((body) =>
    sealGroupMessage({
      sender,
      log,
      keyOf: (id) => keys.get(id) ?? keyring.lookup(id),
      replacedOf: keyring.replacedOf,
      body,
    }),
  );
}

/**
 * `send group:<g>`: brings the group's log up to the relay's (verified, 16.4), seals the text once
 * for every member at its head (my username first, once per new set of members, when the profile
 * shares it) and has the relay store it (`group-send`). A relay that says the head is stale
 * (another change came first) makes it fetch the log and seal again, once; a refusal after that
 * (GROUP_SENDER_REMOVED: removed meanwhile) is the command's failure. Mutates the profile.
 */
export async function sendToGroup(
  session: Session,
  group: string,
  content: string | MessageBody,
): Promise<GroupSent> {
  const keyring = new GroupKeyring(session);
  let log = await syncGroupLog(session, keyring, group);
  for (let attempt = 0; ; attempt++) {
    const hello = helloDue(session, log);
    const bodies: Body[] = [
      ...(hello ? [{ v: 1, type: 'hello', username: session.account.username } as const] : []),
      messageBody(content),
    ];
    const packets = await seal(session, keyring, log, bodies);
    try {
      let ack = { seq: 0 };
      for (const [index, packet] of packets.entries()) {
        ack = await session.client.groupSend(packet);
        const record = session.profile.groups?.[group];
        if (hello && index === 0 && record !== undefined) record.helloAt = groupHead(log).index;
      }
      return { group, id: packets.at(-1)?.id ?? '', seq: ack.seq, head: groupHead(log).index };
    } catch (error) {
      if (attempt > 0 || !(error instanceof RelayRefusedError) || !STALE_HEAD.has(error.code))
        throw error;
      log = await syncGroupLog(session, keyring, group);
    }
  }
}

import type { GroupEntry } from '../../core/index.js';
import type { Profile } from '../profile/profile.js';
import { peerLabel } from '../stream/peer-label.js';

/** A member as a change line names it: "me", else the label no other peer shares. */
function named(profile: Profile, identifier: string): string {
  return identifier === profile.identifier ? 'me' : peerLabel(profile, identifier).name;
}

/**
 * A membership change as a line of its own ("alice added carol"), for `listen` and the chat
 * screen. A rename says only that it happened: the name is shown where it is read, once decrypted.
 */
export function groupChangeLine(profile: Profile, entry: GroupEntry): string {
  const author = named(profile, entry.author);
  switch (entry.op) {
    case 'create': {
      const others = entry.members.filter((m) => m !== entry.author).map((m) => named(profile, m));
      return `${author} created the group with ${others.join(', ') || 'nobody else'}`;
    }
    case 'add':
      return `${author} added ${named(profile, entry.member)}`;
    case 'remove':
      return `${author} removed ${named(profile, entry.member)}`;
    case 'leave':
      return `${author} left`;
    case 'rename':
      return `${author} renamed the group`;
    case 'set-admins':
      return `${author} made ${entry.admins.map((m) => named(profile, m)).join(', ')} the admins`;
  }
}

import { mkdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { withProfileLock } from './profile-lock.js';
import { removeHistoryFiles } from '../history/history-files.js';
import { mergeProfiles } from './profile-merge.js';
import { writePrivateFile } from './private-file.js';
import { profileSchema, type Profile } from './profile-schema.js';

export { profileSchema, type PeerRecord, type Profile } from './profile-schema.js';

/** The profile file is missing: the user has not registered or logged in with this --home. */
export class NoProfileError extends Error {
  override readonly name = 'NoProfileError';
}

/** The profile file exists but cannot be read as a profile. */
export class ProfileCorruptError extends Error {
  override readonly name = 'ProfileCorruptError';
}

/** Where the profile lives: --home, then METACHAT_HOME, then $XDG_CONFIG_HOME/metachat, then ~/.config/metachat. */
export function resolveHome(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return flag;
  if (env['METACHAT_HOME']) return env['METACHAT_HOME'];
  const xdg = env['XDG_CONFIG_HOME'];
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), '.config'), 'metachat');
}

function profilePath(home: string): string {
  return join(home, 'profile.json');
}

/** Reads and validates the profile. */
export async function loadProfile(home: string): Promise<Profile> {
  let text: string;
  try {
    text = await readFile(profilePath(home), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NoProfileError(
        `No profile in ${home}: run "metachat register" or "metachat login" first.`,
      );
    }
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProfileCorruptError(
      `The profile ${profilePath(home)} is not valid JSON; log in again.`,
    );
  }
  const parsed = profileSchema.safeParse(value);
  if (!parsed.success) {
    throw new ProfileCorruptError(`The profile ${profilePath(home)} is damaged; log in again.`);
  }
  onDisk.set(parsed.data, structuredClone(parsed.data));
  return parsed.data;
}

/** What each profile this process loaded looked like on disk when it last read or wrote it. */
const onDisk = new WeakMap<Profile, Profile>();

/**
 * Writes the profile atomically (0600 file in a 0700 directory, temp file, fsync, rename). A profile
 * this process loaded is first merged with what another process wrote since (`mergeProfiles`), and
 * takes those changes in; if another process logged out meanwhile, nothing is written back.
 */
export async function saveProfile(home: string, profile: Profile): Promise<void> {
  const base = onDisk.get(profile);
  if (base === undefined) {
    // A new profile (register, login): nothing to merge with, but no save of another may interleave.
    const next = profileSchema.parse(profile);
    await mkdir(home, { recursive: true, mode: 0o700 });
    await withProfileLock(home, () =>
      writePrivateFile(home, 'profile.json', `${JSON.stringify(next, null, 2)}\n`),
    );
    onDisk.set(profile, structuredClone(next));
    return;
  }
  await withProfileLock(home, async () => {
    let theirs: Profile | undefined;
    try {
      theirs = await loadProfile(home);
    } catch (error) {
      if (error instanceof NoProfileError) return;
      if (!(error instanceof ProfileCorruptError)) throw error;
    }
    // No await from here to the assignment: whatever the caller changed meanwhile is included.
    const mine = profileSchema.parse(profile);
    // Read under the lock: an earlier save of this same profile may have finished meanwhile.
    const since = onDisk.get(profile) ?? base;
    const next =
      theirs === undefined ? mine : profileSchema.parse(mergeProfiles(since, mine, theirs));
    if (next !== mine) {
      for (const key of Object.keys(profile))
        if (!(key in next)) Reflect.deleteProperty(profile, key);
      Object.assign(profile, next);
    }
    const written = structuredClone(next);
    await writePrivateFile(home, 'profile.json', `${JSON.stringify(next, null, 2)}\n`);
    onDisk.set(profile, written);
  });
}

/** Forgets this device's profile (logout), and its local history with it. */
export async function removeProfile(home: string): Promise<boolean> {
  try {
    await readFile(profilePath(home));
  } catch {
    return false;
  }
  await withProfileLock(home, async () => {
    await rm(profilePath(home), { force: true });
    await removeHistoryFiles(home);
  });
  return true;
}

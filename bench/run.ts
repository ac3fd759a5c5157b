// `npm run bench [core|daemon|relay|storage|import|cluster|memory|client]`: the project's benchmarks, each with its baseline measured in the same run.
import { clientBench } from './client-bench.js';
import { clusterBench } from './cluster-bench.js';
import { runCoreBench } from './core-bench.js';
import { relayThroughput, runDaemonBench, storageCost } from './daemon-bench.js';
import { importCost } from './import-bench.js';
import { memoryBench } from './memory-bench.js';

const only = process.argv[2];
console.log(`MetaChat benchmarks — node ${process.version}, ${new Date().toISOString()}`);
if (only === undefined || only === 'core') await runCoreBench();
if (only === undefined || only === 'daemon') await runDaemonBench();
if (only === 'relay') await relayThroughput();
if (only === 'storage') await storageCost();
if (only === 'import') await importCost();
if (only === 'cluster') await clusterBench();
if (only === 'memory') await memoryBench();
if (only === 'client') await clientBench();

// `npm run bench`: every benchmark of the project, each with its baseline measured in the same run.
import { runCoreBench } from './core-bench.js';

console.log(`MetaChat benchmarks — node ${process.version}, ${new Date().toISOString()}`);
await runCoreBench();

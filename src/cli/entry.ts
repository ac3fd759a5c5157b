// The `metachat` executable: runs the CLI and exits with its code.
import { main } from './main.js';

// A reader that stops early (`metachat listen | head -1`) is not an error worth a stack trace: the
// command winds down as on Ctrl+C (so `listen` still saves how far it read), writing nothing more.
let readerGone = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    if (readerGone) return;
    readerGone = true;
    process.emit('SIGINT', 'SIGINT');
  });
}

process.exitCode = await main(process.argv);

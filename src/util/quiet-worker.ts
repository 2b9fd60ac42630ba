/**
 * A worker thread that never touches this process's stdout or stderr.
 *
 * By default `new Worker` pipes the thread's stdout into process.stdout, creating it on
 * first use. In the agent, fd 1 is the protocol channel, already watched by its own
 * stream: node's lazy process.stdout then fails with "open EEXIST" (intermittently,
 * when fd 1 is being watched for writing), and a line a thread printed would corrupt
 * the protocol; process.stderr fails the same way over ssh. So the thread's stdout
 * and stderr stay with the worker, unread: the threads print nothing there but node's
 * own warnings. (Reading them would keep the process alive after unref().)
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { afterNewIsolate } from './young-generation.js';

export function quietWorker(code: string, options: WorkerOptions): Worker {
  const worker = new Worker(code, { ...options, stdout: true, stderr: true });
  worker.once('online', afterNewIsolate);
  return worker;
}

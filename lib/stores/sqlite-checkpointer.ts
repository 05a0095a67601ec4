import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** How often the worker copies the WAL back into the database file. */
const CHECKPOINT_INTERVAL_MS = 100

/**
 * WAL pages after which the serving connection checkpoints by itself: only reached when the worker falls
 * behind or is gone, so the WAL stays bounded (about 40 MB) whatever happens to the worker.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000

// CommonJS, evaluated in the worker: its own connection to the file, a PASSIVE checkpoint (never waits
// for, nor blocks, the serving connection) on a timer, closed on request.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.filename, { fileMustExist: true })
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)') } catch {}
}, workerData.intervalMs)
parentPort.once('message', () => {
  clearInterval(timer)
  db.close()
  parentPort.close()
})
`

export interface WalCheckpointer {
  /** Stops the worker and closes its connection; resolves once it has exited. Idempotent. */
  stop (): Promise<void>
}

/**
 * Checkpoints a WAL-mode SQLite file from a worker thread. A checkpoint copies the WAL back into the
 * database file and syncs it (milliseconds of disk waits); left to SQLite, it runs inside whichever
 * commit crosses the threshold, on the event loop. The serving connection keeps a high autocheckpoint
 * threshold (FALLBACK_AUTOCHECKPOINT_PAGES) as a safety net. The worker never keeps the process alive.
 */
export function startWalCheckpointer (filename: string, intervalMs = CHECKPOINT_INTERVAL_MS): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, filename, intervalMs } })
  worker.unref()
  let running = true
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      running = false
      resolve()
    })
  })
  // A worker that fails (the file removed under it, say) leaves checkpointing to the serving connection.
  worker.on('error', () => {})
  let stopped: Promise<void> | undefined
  return {
    stop: async () => {
      stopped ??= (async () => {
        if (running) {
          // Held while it winds down, or the process could exit first and leave this promise pending.
          worker.ref()
          worker.postMessage('stop')
        }
        await exited
      })()
      await stopped
    }
  }
}

import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Test } from 'tap'

/** Debian's chromium (or CHROMIUM_PATH); undefined when none is installed. */
export function findChromium (): string | undefined {
  const given = process.env.CHROMIUM_PATH
  if (given !== undefined && given !== '' && existsSync(given)) return given
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const path = execFileSync('which', [name], { encoding: 'utf8' }).trim()
      if (path !== '') return path
    } catch {}
  }
  return undefined
}

/** A port nothing listens on now (the example server takes its port before its mailed links are built). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * Runs `tests` with the browser's path; without one, the file skips with the reason, except under CI=true,
 * where the browser tests must run (.ci/run installs chromium).
 */
export async function withChromium (t: Test, tests: (executablePath: string) => Promise<void>): Promise<void> {
  const executablePath = findChromium()
  if (executablePath !== undefined) {
    await tests(executablePath)
    return
  }
  if (process.env.CI === 'true') t.fail('no chromium found (install Debian\'s chromium or set CHROMIUM_PATH): the browser tests must run in CI')
  else t.plan(0, 'no chromium found (install Debian\'s chromium package or set CHROMIUM_PATH)')
}

// Test support: run an example script as its own process, the way a user runs it (`npx tsx <script>`).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** What an example process printed, its exit code, and its parsed `RESULT {...}` line. */
export interface ExampleRun<R> {
  code: number | null;
  stdout: string;
  stderr: string;
  result: R | undefined;
}

/** Run `examples/<script>` with `node --import tsx`, killing it after `timeoutMs`. */
export function runExample<R = unknown>(
  script: string,
  args: string[],
  timeoutMs = 45_000,
): Promise<ExampleRun<R>> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, script), ...args], {
    cwd: here,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({ code, stdout, stderr, result: line ? (JSON.parse(line.slice(7)) as R) : undefined });
    });
  });
}

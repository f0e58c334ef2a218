#!/usr/bin/env node
import { runCli } from './cli/main.js';

const finish = (code: number) => {
  process.exitCode = code;
  // Exit once output is flushed; a handle something left open must not keep a finished command alive.
  setTimeout(() => process.exit(code), 500).unref();
};

runCli(process.argv.slice(2)).then(finish, (e) => {
  process.stderr.write(`tmesh: ${String(e)}\n`);
  finish(1);
});

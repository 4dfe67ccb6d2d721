#!/usr/bin/env node
import { main } from '../dist/src/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`wadm: ${err?.message ?? err}\n`);
  process.exit(1);
});

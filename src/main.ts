import { CommanderError } from 'commander';
import { buildProgram } from './cli/program.js';
import { exitCodeFor, isStreamcastError } from './domain/errors.js';

/**
 * Entry point of the `streamcast` CLI (commands: src/cli/; what they run is wired in src/app/). Exit codes: 0 success, 2 bad usage, spec or config
 * (the message says how to fix it), 1 anything else.
 */
async function main(argv: string[]): Promise<number> {
  // libtensorflow (the native backend) logs its start-up at INFO straight to stderr from C++,
  // breaking the JSON-lines log; warnings and errors still come through. Set on the main thread,
  // before any thread loads it: a worker's process.env is a copy its C++ getenv does not see.
  process.env['TF_CPP_MIN_LOG_LEVEL'] ??= '1';
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  if (argv.length <= 2) {
    program.outputHelp();
    return 2;
  }
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; everything else commander rejects is bad usage.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 2;
    }
    if (isStreamcastError(err)) {
      process.stderr.write(`streamcast: ${err.message}\n`);
    } else {
      process.stderr.write(`streamcast: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    return exitCodeFor(err);
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`streamcast: ${String(err)}\n`);
    process.exitCode = 1;
  },
);

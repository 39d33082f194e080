import { createRequire } from 'node:module';

/** Whether `npm run native:install` has put @tensorflow/tfjs-node where Node resolves it. */
export function nativeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return false;
    throw err;
  }
}

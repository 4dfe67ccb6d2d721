/** `wadm app validate <file>`: offline, no connection. */
import { describeError } from '@wadm-ts/client';
import { validateManifestText } from '../manifest-check.js';
import { readManifestSource } from '../manifest-source.js';
import { failure, type CommandOutput, type OutputMode } from '../output.js';
import { renderValidation } from '../render-validation.js';

export async function validateCommand(file: string, mode: OutputMode): Promise<CommandOutput> {
  let text: string;
  try {
    text = await readManifestSource(file);
  } catch (e) {
    return failure(describeError(e));
  }
  return renderValidation(validateManifestText(text), mode);
}

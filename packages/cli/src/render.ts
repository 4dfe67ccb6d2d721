/** Rendering of wadm API replies for `wadm app …` (put, deploy, undeploy, delete, get, list, history): text or json. */
import { stringify as toYaml } from 'yaml';
import { statusFromWire } from '@wadm-ts/model';
import type {
  DeleteModelResponse,
  DeployModelResponse,
  GetModelResponse,
  ListModelsResponse,
  ModelSummary,
  PutModelResponse,
  VersionResponse,
} from '@wadm-ts/protocol';
import { formatTable, oneLine } from './format.js';
import { combine, failure, isFailure, jsonOutput, ok, type CommandOutput, type OutputMode, type ReplyBody } from './output.js';

const DESCRIPTION_WIDTH = 60;

/** json: the reply body as one line; text: `text(reply)`, or the reply's message on stderr when it failed. */
export function renderReply<R extends ReplyBody>(reply: R, mode: OutputMode, text: (r: R) => string[]): CommandOutput {
  if (mode === 'json') return jsonOutput(reply, isFailure(reply));
  if (isFailure(reply)) return failure(reply.message || `wadm replied "${reply.result}"`);
  return ok(...text(reply));
}

/** Several replies of one kind (the `--all` forms): json prints them as one array line. */
export function renderMany<R extends ReplyBody>(replies: readonly R[], mode: OutputMode, text: (r: R) => string[]): CommandOutput {
  if (mode === 'json') return jsonOutput(replies, replies.some(isFailure));
  return combine(replies.map((r) => renderReply(r, mode, text)));
}

export function renderPut(reply: PutModelResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, (r) => [`Put application "${r.name}", version "${r.current_version}"`]);
}

export function renderDeploy(reply: DeployModelResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, (r) => [`Deployed application "${r.name}", version "${r.version ?? ''}"`]);
}

export function undeployText(reply: DeployModelResponse): string[] {
  // A non-destructive undeploy (or the undeploy that later cleans up after one) says what happened to
  // the resources in the reply's message; a plain one keeps the Rust wash wording.
  const detail = /non-destructively|left running/.test(reply.message) ? [reply.message] : [];
  return [`Undeployed application: ${reply.name}`, ...detail];
}

export function renderUndeploy(reply: DeployModelResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, undeployText);
}

export function renderDelete(name: string, version: string | undefined, reply: DeleteModelResponse, mode: OutputMode): CommandOutput {
  const suffix = version === undefined ? '' : `, version "${version}"`;
  return renderReply(reply, mode, (r) => [
    r.result === 'noop' ? `Already deleted application: ${name}${suffix}` : `Deleted application: ${name}${suffix}`,
  ]);
}

export function renderGet(reply: GetModelResponse, mode: OutputMode): CommandOutput {
  if (mode === 'text' && !isFailure(reply) && reply.manifest === undefined) return failure('wadm returned no manifest');
  return renderReply(reply, mode, (r) => [toYaml(r.manifest).trimEnd()]);
}

export function renderList(reply: ListModelsResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, (r) =>
    r.models.length === 0
      ? ['No applications found']
      : formatTable(['Name', 'Deployed Version', 'Latest Version', 'Status', 'Description'], r.models.map(summaryRow)),
  );
}

function summaryRow(m: ModelSummary): string[] {
  const status = statusFromWire(m.detailed_status)?.status.type ?? m.status;
  return [m.name, m.deployed_version ?? 'N/A', m.version, status, oneLine(m.description ?? '', DESCRIPTION_WIDTH)];
}

export function renderHistory(reply: VersionResponse, mode: OutputMode): CommandOutput {
  return renderReply(reply, mode, (r) =>
    formatTable(
      ['Version', 'Deployed'],
      r.versions.map((v) => [v.version, v.deployed ? 'yes' : 'no']),
    ),
  );
}

/** Rendering of `wadm app validate`: every failure with its level, then a summary line. */
import type { ValidationReport } from './manifest-check.js';
import { jsonOutput, type CommandOutput, type OutputMode } from './output.js';

export function renderValidation(report: ValidationReport, mode: OutputMode): CommandOutput {
  const errors = report.failures.filter((f) => f.level === 'error').length;
  const warnings = report.failures.length - errors;
  const valid = report.parseError === undefined && errors === 0;
  const exitCode = valid ? 0 : 1;
  if (mode === 'json') {
    const body = report.parseError === undefined ? { valid, failures: report.failures } : { valid, parseError: report.parseError, failures: [] };
    return jsonOutput(body, !valid);
  }
  if (report.parseError !== undefined) return { stdout: [`error: ${report.parseError}`], stderr: [], exitCode };
  const lines = report.failures.map((f) => `${f.level}: ${f.msg}`);
  lines.push(validationSummary(report.name ?? '', errors, warnings));
  return { stdout: lines, stderr: [], exitCode };
}

function validationSummary(name: string, errors: number, warnings: number): string {
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (errors > 0) return `Manifest ${name} is invalid: ${count(errors, 'error')}, ${count(warnings, 'warning')}`;
  if (warnings > 0) return `Manifest ${name} is valid, with ${count(warnings, 'warning')}`;
  return `Manifest ${name} is valid`;
}

/** Spec problems found while planning, located at `file:line:column` when the source is known. */
import { McmlError, type Issue } from '../errors.js';
import { formatPath, specIssuesError, type SpecDocument } from '../spec/parse.js';
import type { Spec } from '../spec/schema.js';
import type { SpecProblem } from './check.js';

export type PathKey = string | number;

/** Where spec paths are in the source text, so errors can name `file:line:column`. */
export interface PlanOptions {
  file?: string;
  locate?: SpecDocument['locate'];
}

/** The notes the planner collects while it decides: reasons explain, warnings caution. */
export interface Notes {
  warnings: string[];
  reasons: string[];
}

export class Problems {
  constructor(private readonly options: PlanOptions) {}
  issue(path: PathKey[], message: string, hint?: string): Issue {
    const pos = this.options.locate?.(path);
    const where = formatPath(path);
    return {
      path: pos ? `${this.options.file ?? 'mcml.yaml'}:${pos.line}:${pos.column} ${where}` : where,
      message,
      ...(hint ? { hint } : {}),
      ...(pos ?? {}),
    };
  }
  specInvalid(spec: Spec, problems: SpecProblem[]): McmlError {
    const locate = this.options.locate;
    if (locate !== undefined) {
      return specIssuesError({ spec, file: this.options.file ?? 'mcml.yaml', locate }, problems);
    }
    const n = problems.length;
    return new McmlError('SPEC_INVALID', `${n} problem${n === 1 ? '' : 's'} in the spec`, {
      issues: problems.map((p) => this.issue(p.path, p.message, p.hint)),
    });
  }
}

import { McmlError } from '../../core/errors.js';
import { planDocument } from '../../core/plan/planner.js';
import type { Plan } from '../../core/plan/types.js';
import { TERRAFORM_ROOTS, render, type WorkloadIdentity } from '../../core/render/index.js';
import { readModules, writeOutput } from '../../engines/render/index.js';
import { loadCatalog } from '../catalog-files.js';
import { paint, useColor } from '../output.js';
import { DEFAULT_SPEC_FILE, givenSpecFile, loadSpecFile } from '../spec-file.js';
import { VERSION } from '../version.js';
import { readInputFile, shownPath } from '../input-file.js';
import { printable } from '../../core/quote.js';

const PLAN_HINT = 'write one with: mcml plan -f mcml.yaml --json > plan.json';
const IDENTITIES_HINT =
  'write it with: terraform -chdir=out/terraform output -json workload_identities > identities.json';

export interface RenderCommandOptions {
  file?: string;
  out: string;
  force?: boolean;
  catalog?: string;
  plan?: string;
  identities?: string;
}

/**
 * Largest plan and identities files read: far above what `mcml plan --json` writes for the
 * largest spec accepted (1 MiB), far below what would exhaust memory.
 */
const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** A JSON file the user named, read as input (regular files only, bounded). */
async function readJson(file: string, what: string, hint: string): Promise<unknown> {
  const text = await readInputFile(file, {
    what,
    maxBytes: MAX_JSON_BYTES,
    missingHint: hint,
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `${what} ${shownPath(file)} is not JSON: ${printable((error as Error).message, 200)}`,
      { hint },
    );
  }
}

/** A plan file must at least look like `mcml plan --json` output; render checks the rest. */
function asPlan(value: unknown, file: string): Plan {
  const v = value as Partial<Plan> | null;
  if (
    !v ||
    typeof v !== 'object' ||
    !Array.isArray(v.placements) ||
    typeof v.service !== 'string'
  ) {
    throw new McmlError('INVALID_ARGUMENT', `${shownPath(file)} is not a plan`, {
      hint: PLAN_HINT,
    });
  }
  return v as Plan;
}

/**
 * Identities from `terraform output -json workload_identities` (the value itself), from
 * `terraform output -json` (all outputs), or a plain `{target: {annotations}}` map.
 */
export function parseIdentities(value: unknown, file: string): Record<string, WorkloadIdentity> {
  let v = value as Record<string, unknown> | null;
  if (v && typeof v === 'object' && 'workload_identities' in v)
    v = v.workload_identities as Record<string, unknown>;
  if (v && typeof v === 'object' && 'value' in v && 'type' in v)
    v = v.value as Record<string, unknown>;
  const bad = () =>
    new McmlError('INVALID_ARGUMENT', `${shownPath(file)} is not a map of target → {annotations}`, {
      hint: IDENTITIES_HINT,
    });
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad();
  const out: Record<string, WorkloadIdentity> = {};
  for (const [target, entry] of Object.entries(v)) {
    const annotations = (entry as { annotations?: unknown } | null)?.annotations;
    if (!annotations || typeof annotations !== 'object') throw bad();
    const clean: Record<string, string> = {};
    for (const [k, val] of Object.entries(annotations)) {
      if (typeof val !== 'string') throw bad();
      clean[k] = val;
    }
    out[target] = { annotations: clean };
  }
  return out;
}

export async function runRender(
  fileArg: string | undefined,
  options: RenderCommandOptions,
): Promise<void> {
  const file = givenSpecFile(fileArg, options.file) ?? DEFAULT_SPEC_FILE;
  const doc = await loadSpecFile(file);
  const plan =
    options.plan !== undefined
      ? asPlan(await readJson(options.plan, 'plan file', PLAN_HINT), options.plan)
      : planDocument(doc, await loadCatalog(options.catalog));
  const identities =
    options.identities === undefined
      ? undefined
      : parseIdentities(
          await readJson(options.identities, 'identities file', IDENTITIES_HINT),
          options.identities,
        );
  const result = render(doc.spec, plan, identities === undefined ? {} : { identities });
  const modules = await readModules(result.modules);
  const written = await writeOutput({
    outDir: options.out,
    files: { ...result.files, ...modules },
    force: options.force === true,
    version: VERSION,
    cwd: process.cwd(),
  });
  const color = useColor();
  const count = (prefix: string) => written.written.filter((p) => p.startsWith(prefix)).length;
  const lines = [
    `${paint('green', '✓', color)} rendered ${written.written.length} files into ${options.out}/`,
    `  terraform/   ${count('terraform/')} files (roots: ${TERRAFORM_ROOTS.filter((r) => `terraform/${r}/main.tf` in result.files).join(', ')}; ${result.modules.length} modules)`,
    `  k8s/         ${count('k8s/')} files (base + ${plan.placements.filter((p) => p.provider !== 'local').length} overlays)`,
    `  monitoring/  ${count('monitoring/')} files`,
  ];
  if (count('dns/') > 0) lines.push(`  dns/         ${count('dns/')} files`);
  if (written.kept.length > 0)
    lines.push(
      `  kept ${written.kept.length} files that are not mcml's (Terraform state, tfvars, …)`,
    );
  if (written.removed.length > 0)
    lines.push(`  removed ${written.removed.length} files an earlier render wrote`);
  for (const w of result.warnings) lines.push(`${paint('yellow', 'note', color)}: ${w}`);
  lines.push(
    '',
    'Next:',
    `  mcml infra plan -o ${options.out} --save tfplan   # terraform plan of every root, saved`,
    `  mcml infra apply -o ${options.out} tfplan         # apply those plans; writes identities.json`,
    `  mcml deploy -f ${file} -o ${options.out}     # every cluster in waves, gated, one status`,
  );
  process.stdout.write(lines.join('\n') + '\n');
}

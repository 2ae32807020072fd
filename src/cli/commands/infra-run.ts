import { spawn } from 'node:child_process';
import { access, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { McmlError } from '../../core/errors.js';
import {
  AFTER_DEPLOY_ROOTS,
  TERRAFORM_ROOTS,
  type TerraformRoot,
} from '../../core/render/index.js';

export interface InfraCommandOptions {
  /** The directory `mcml render` wrote. */
  out: string;
  /** Only these roots (comma-separated names), in mcml's order. */
  root?: string;
  /** plan: save each root's plan under this file name (`terraform plan -out`). */
  save?: string;
  /** apply: no confirmation prompt (CI). */
  autoApprove?: boolean;
  /** Providers from this directory instead of the registry (`terraform init -plugin-dir`). */
  pluginDir?: string;
  /** Extra `terraform init -backend-config` values (KEY=VALUE or a file). */
  backendConfig?: string[];
}

/** The first of terraform / tofu found on PATH, or undefined. */
export async function findTerraform(
  path: string = process.env.PATH ?? '',
): Promise<{ name: string; bin: string } | undefined> {
  for (const name of ['terraform', 'tofu']) {
    for (const dir of path.split(delimiter)) {
      if (dir === '') continue;
      const bin = join(dir, name);
      try {
        await access(bin, 1);
        if ((await stat(bin)).isFile()) return { name, bin };
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

function run(
  bin: string,
  args: string[],
  cwd: string,
  options: { capture?: boolean; interactive?: boolean } = {},
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, {
      cwd,
      stdio: [
        options.interactive ? 'inherit' : 'ignore',
        options.capture ? 'pipe' : 'inherit',
        'inherit',
      ],
    });
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout }));
  });
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The variables of a root without a value: in terraform.tfvars.example, not in a tfvars file or TF_VAR_*. */
async function missingVariables(dir: string): Promise<string[]> {
  let example: string;
  try {
    example = await readFile(join(dir, 'terraform.tfvars.example'), 'utf8');
  } catch {
    return [];
  }
  const needed = example
    .split('\n')
    .map((l) => /^([a-z_][a-z0-9_]*)\s*=/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
  const files = await readdir(dir);
  if (files.some((f) => f === 'terraform.tfvars' || f.endsWith('.auto.tfvars'))) return [];
  return needed.filter((n) => process.env[`TF_VAR_${n}`] === undefined);
}

/** The rendered roots to run, in order; `--root` picks some of them. */
async function selectRoots(
  tfDir: string,
  out: string,
  only: string | undefined,
): Promise<TerraformRoot[]> {
  const present: TerraformRoot[] = [];
  for (const root of TERRAFORM_ROOTS) {
    if (await exists(join(tfDir, root, 'main.tf'))) present.push(root);
  }
  if (present.length === 0) {
    const legacy = await exists(join(tfDir, 'main.tf'));
    throw new McmlError(
      'NOT_FOUND',
      `${tfDir} holds no Terraform root (${TERRAFORM_ROOTS.join(', ')})`,
      {
        hint: legacy
          ? `it was rendered by an older mcml with one root for every cloud: run "mcml render -o ${out}" again; to keep existing resources, move them into the new roots with "terraform state mv" (docs/render.md)`
          : `run "mcml render -o ${out}" first`,
      },
    );
  }
  if (only === undefined) return present;
  const wanted = only
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  const unknown = wanted.filter((r) => !present.includes(r as TerraformRoot));
  if (unknown.length > 0 || wanted.length === 0) {
    throw new McmlError(
      'USAGE',
      `--root ${only}: ${unknown.length > 0 ? `no root ${unknown.join(', ')} in ${tfDir}` : 'names no root'}`,
      {
        hint: `the rendered roots are: ${present.join(', ')}`,
      },
    );
  }
  return present.filter((r) => wanted.includes(r));
}

interface Step {
  root: TerraformRoot;
  dir: string;
}

/**
 * Which roots run now. A root whose variables are unset is an input error, except a root
 * that waits for `mcml deploy` (dns) when it was not asked for by name: it is left for later.
 */
async function stepsToRun(
  tfDir: string,
  roots: TerraformRoot[],
  explicit: boolean,
  note: (line: string) => void,
): Promise<Step[]> {
  const steps: Step[] = [];
  for (const root of roots) {
    const dir = join(tfDir, root);
    const missing = await missingVariables(dir);
    if (missing.length === 0) {
      steps.push({ root, dir });
      continue;
    }
    if (AFTER_DEPLOY_ROOTS.includes(root) && !explicit) {
      note(
        `${root}: left for after "mcml deploy": it needs ${missing.join(', ')} (the load balancers' names). ` +
          `Then: cp ${dir}/terraform.tfvars.example ${dir}/terraform.tfvars, fill it in, and run "mcml infra apply --root ${root}".`,
      );
      continue;
    }
    throw new McmlError(
      'USAGE',
      `the Terraform variables ${missing.join(', ')} of ${dir} are not set`,
      {
        hint: `cp ${dir}/terraform.tfvars.example ${dir}/terraform.tfvars and fill it in (mcml keeps it when it renders again), or export TF_VAR_${missing[0]}=…`,
      },
    );
  }
  return steps;
}

/** Terraform's colours only on a terminal: logs in CI stay readable. */
const colour = (): string[] =>
  process.stdout.isTTY === true && process.env.NO_COLOR === undefined ? [] : ['-no-color'];

function initArgs(options: InfraCommandOptions): string[] {
  const args = ['init', '-input=false', ...colour()];
  if (options.pluginDir !== undefined) args.push(`-plugin-dir=${options.pluginDir}`);
  for (const c of options.backendConfig ?? []) args.push(`-backend-config=${c}`);
  return args;
}

/** Why `apply` cannot run as asked, before anything runs: it would wait for a "yes" no one can type. */
function checkApproval(options: InfraCommandOptions, planFile: string | undefined): void {
  if (planFile !== undefined || options.autoApprove === true || process.stdin.isTTY === true)
    return;
  throw new McmlError(
    'USAGE',
    'terraform apply needs a confirmation and there is no terminal to give it',
    {
      hint: 'pass --auto-approve, or review a saved plan first: "mcml infra plan --save tfplan", then "mcml infra apply tfplan"',
    },
  );
}

/**
 * A saved plan is a file name in each root (`tfplan`, `staging.tfplan`): a path would make
 * every root write one file, and render keeps only names it knows to be Terraform's.
 */
function checkPlanName(name: string | undefined, flag: string): void {
  if (name === undefined || /^(?:[\w-][\w.-]*\.)?tfplan$/.test(name)) return;
  throw new McmlError(
    'USAGE',
    `${flag} ${JSON.stringify(name)}: a saved plan is named "tfplan" or "<name>.tfplan"`,
    {
      hint: 'each root keeps its own plan under that name in out/terraform/<root>/, e.g. --save tfplan',
    },
  );
}

/** The roots that create clusters and so output workload_identities. */
const CLOUD_ROOTS: readonly TerraformRoot[] = ['aws', 'gcp', 'azure'];

/** The outputs of the cloud roots `mcml` needs after apply, read with one `terraform output` each. */
interface CloudOutputs {
  /** workload_identities merged over the roots; empty when none has it. */
  identities: Record<string, unknown>;
  /** target → kubeconfig context, or undefined when no root has kubeconfig_commands. */
  contexts: Record<string, string> | undefined;
}

async function readCloudOutputs(bin: string, steps: Step[]): Promise<CloudOutputs> {
  const out: CloudOutputs = { identities: {}, contexts: undefined };
  for (const { root, dir } of steps) {
    if (!CLOUD_ROOTS.includes(root)) continue;
    const r = await run(bin, ['output', '-json'], dir, { capture: true });
    if (r.code !== 0) continue;
    let outputs: Record<string, { value?: unknown } | undefined>;
    try {
      outputs = JSON.parse(r.stdout) as typeof outputs;
    } catch {
      continue; // not JSON: mcml deploy then asks for targets[].context
    }
    Object.assign(out.identities, outputs.workload_identities?.value ?? {});
    if (outputs.kubeconfig_commands !== undefined) {
      out.contexts = {
        ...out.contexts,
        ...contextsFromCommands(outputs.kubeconfig_commands.value),
      };
    }
  }
  return out;
}

/** Writes <out>/identities.json and <out>/contexts.json from the outputs; says where. */
async function writeCloudOutputs(outputs: CloudOutputs, out: string): Promise<void> {
  if (Object.keys(outputs.identities).length > 0) {
    const file = join(out, 'identities.json');
    await writeFile(file, JSON.stringify(outputs.identities, null, 2) + '\n');
    process.stdout.write(
      `\nWorkload identities written to ${file}. Render the manifests with them:\n` +
        `  mcml render -o ${out} --identities ${file}\n`,
    );
  }
  if (outputs.contexts !== undefined) {
    const file = join(out, 'contexts.json');
    await writeFile(file, JSON.stringify(outputs.contexts, null, 2) + '\n');
    process.stdout.write(
      `Kubeconfig contexts of the clusters written to ${file} (mcml deploy uses them).\n` +
        `Add the clusters to your kubeconfig with: terraform -chdir=<root> output kubeconfig_commands\n`,
    );
  }
}

/**
 * target → kubeconfig context, from `terraform output -json kubeconfig_commands`: the context
 * each command names (`--alias X`, `rename-context … X`, `--context X`). `mcml deploy` reads it.
 */
export function contextsFromCommands(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!value || typeof value !== 'object') return out;
  for (const [target, command] of Object.entries(value as Record<string, unknown>)) {
    if (typeof command !== 'string') continue;
    const m = /(?:--alias|rename-context\s+\S+|--context)\s+(\S+)\s*$/.exec(command.trim());
    if (m) out[target] = m[1]!;
  }
  return out;
}

/**
 * `mcml infra plan|apply`: terraform init + plan/apply in every rendered root, in order
 * (clouds, add-ons, dns), each with its own state. `planFile` applies saved plans.
 */
export async function runInfra(
  action: 'plan' | 'apply',
  options: InfraCommandOptions,
  planFile?: string,
): Promise<void> {
  const tfDir = join(options.out, 'terraform');
  checkPlanName(options.save, '--save');
  checkPlanName(planFile, 'apply');
  if (action === 'apply') checkApproval(options, planFile);
  const roots = await selectRoots(tfDir, options.out, options.root);
  const note = (line: string) => process.stderr.write(`note: ${line}\n`);
  let steps = await stepsToRun(tfDir, roots, options.root !== undefined, note);
  if (planFile !== undefined) steps = await withSavedPlan(steps, planFile, tfDir, options, note);
  if (steps.length === 0) return;
  const tool = await requireTerraform(steps[0]!.dir, action);
  await runSteps(tool, steps, action, options, planFile);
  if (action === 'plan' && options.save !== undefined) {
    process.stdout.write(
      `\nSaved plans: ${steps.map((s) => join(s.dir, options.save!)).join(', ')}\n` +
        `Apply exactly them with: mcml infra apply -o ${options.out} ${options.save}\n`,
    );
  }
  if (action === 'apply') {
    await writeCloudOutputs(await readCloudOutputs(tool.bin, steps), options.out);
  }
}

type Terraform = NonNullable<Awaited<ReturnType<typeof findTerraform>>>;

/** The steps whose root holds the saved plan (a note for each other); NOT_FOUND when none does. */
async function withSavedPlan(
  steps: Step[],
  planFile: string,
  tfDir: string,
  options: InfraCommandOptions,
  note: (line: string) => void,
): Promise<Step[]> {
  const saved: Step[] = [];
  for (const s of steps) if (await exists(join(s.dir, planFile))) saved.push(s);
  if (saved.length === 0) {
    throw new McmlError('NOT_FOUND', `no saved plan ${planFile} in any root of ${tfDir}`, {
      hint: `save one first: mcml infra plan -o ${options.out} --save ${planFile}`,
    });
  }
  for (const s of steps)
    if (!saved.includes(s)) note(`${s.root}: no saved plan ${planFile}: not applied`);
  return saved;
}

/** terraform or tofu from PATH; NOT_FOUND with how to install one or run it by hand. */
async function requireTerraform(firstDir: string, action: 'plan' | 'apply'): Promise<Terraform> {
  const tool = await findTerraform();
  if (tool === undefined) {
    throw new McmlError('NOT_FOUND', 'neither terraform nor tofu is installed (looked on PATH)', {
      hint:
        'install one: OpenTofu (https://opentofu.org/docs/intro/install/, e.g. "snap install --classic opentofu" or "brew install opentofu") ' +
        'or Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install, e.g. "brew install hashicorp/tap/terraform"); ' +
        `or run it yourself: cd ${firstDir} && terraform init && terraform ${action}`,
    });
  }
  return tool;
}

/** init then plan/apply in each root, in order; the first failure stops, naming what is done. */
async function runSteps(
  tool: Terraform,
  steps: Step[],
  action: 'plan' | 'apply',
  options: InfraCommandOptions,
  planFile: string | undefined,
): Promise<void> {
  const done: string[] = [];
  for (const { root, dir } of steps) {
    process.stderr.write(`\n== ${root} (${dir})\n`);
    const init = await run(tool.bin, initArgs(options), dir);
    if (init.code !== 0) {
      throw new McmlError('UNAVAILABLE', `${tool.name} init failed in ${dir} (exit ${init.code})`, {
        hint:
          (done.length > 0 ? `done before it: ${done.join(', ')}. ` : '') +
          'init reaches the state backend and downloads the providers: check access to both (or pass --plugin-dir)',
      });
    }
    const interactive =
      action === 'apply' && planFile === undefined && options.autoApprove !== true;
    const step = await run(tool.bin, actionArgs(action, options, planFile), dir, { interactive });
    if (step.code !== 0) {
      throw new McmlError(
        'UNAVAILABLE',
        `${tool.name} ${action} failed in ${dir} (exit ${step.code})`,
        {
          ...(done.length > 0
            ? {
                hint: `${action === 'apply' ? 'applied' : 'planned'} before it: ${done.join(', ')}`,
              }
            : {}),
        },
      );
    }
    done.push(root);
  }
}

/** plan [-out=save]; apply <saved plan>; apply -auto-approve; or an interactive apply. */
function actionArgs(
  action: 'plan' | 'apply',
  options: InfraCommandOptions,
  planFile: string | undefined,
): string[] {
  if (action === 'plan') {
    return [
      'plan',
      '-input=false',
      ...colour(),
      ...(options.save === undefined ? [] : [`-out=${options.save}`]),
    ];
  }
  if (planFile !== undefined) return ['apply', '-input=false', ...colour(), planFile];
  if (options.autoApprove === true) return ['apply', '-input=false', ...colour(), '-auto-approve'];
  return ['apply', ...colour()];
}

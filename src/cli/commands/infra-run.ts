import { spawn } from 'node:child_process';
import { access, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { McmlError } from '../../core/errors.js';

export interface InfraCommandOptions {
  out: string;
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
  capture = false,
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, {
      cwd,
      stdio: ['inherit', capture ? 'pipe' : 'inherit', 'inherit'],
    });
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout }));
  });
}

/**
 * The variables the root module needs from the user (the uncommented lines of
 * terraform.tfvars.example) must be in a tfvars file or TF_VAR_* before terraform runs, so the
 * user gets one clear message rather than a prompt or terraform's error.
 */
async function checkVariables(dir: string): Promise<void> {
  let example: string;
  try {
    example = await readFile(join(dir, 'terraform.tfvars.example'), 'utf8');
  } catch {
    return;
  }
  const needed = example
    .split('\n')
    .map((l) => /^([a-z_][a-z0-9_]*)\s*=/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
  const files = await readdir(dir);
  const hasVarFile = files.some((f) => f === 'terraform.tfvars' || f.endsWith('.auto.tfvars'));
  if (hasVarFile) return;
  const missing = needed.filter((n) => process.env[`TF_VAR_${n}`] === undefined);
  if (missing.length > 0) {
    throw new McmlError('USAGE', `the Terraform variables ${missing.join(', ')} are not set`, {
      hint: `cp ${dir}/terraform.tfvars.example ${dir}/terraform.tfvars and fill it in (mcml keeps it when it renders again), or export TF_VAR_${missing[0]}=…`,
    });
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

export async function runInfra(
  action: 'plan' | 'apply',
  options: InfraCommandOptions,
): Promise<void> {
  const dir = join(options.out, 'terraform');
  try {
    await access(join(dir, 'main.tf'));
  } catch {
    throw new McmlError('NOT_FOUND', `${dir}/main.tf does not exist`, {
      hint: `run "mcml render -o ${options.out}" first`,
    });
  }
  await checkVariables(dir);
  const tool = await findTerraform();
  if (tool === undefined) {
    throw new McmlError('NOT_FOUND', 'neither terraform nor tofu is installed (looked on PATH)', {
      hint:
        'install one: OpenTofu (https://opentofu.org/docs/intro/install/, e.g. "snap install --classic opentofu" or "brew install opentofu") ' +
        'or Terraform (https://developer.hashicorp.com/terraform/install, e.g. "brew install hashicorp/tap/terraform"); ' +
        `or run it yourself: cd ${dir} && terraform init && terraform ${action}`,
    });
  }
  const init = await run(tool.bin, ['init', '-input=false'], dir);
  if (init.code !== 0) {
    throw new McmlError('UNAVAILABLE', `${tool.name} init failed in ${dir} (exit ${init.code})`, {
      hint: 'it downloads the providers: check network access to the registry',
    });
  }
  const step = await run(tool.bin, [action, '-input=false'], dir);
  if (step.code !== 0) {
    throw new McmlError(
      'UNAVAILABLE',
      `${tool.name} ${action} failed in ${dir} (exit ${step.code})`,
    );
  }
  if (action === 'apply') {
    const out = await run(tool.bin, ['output', '-json', 'workload_identities'], dir, true);
    if (out.code === 0) {
      const file = join(options.out, 'identities.json');
      await writeFile(file, out.stdout);
      process.stdout.write(
        `\nWorkload identities written to ${file}. Render the manifests with them:\n` +
          `  mcml render -o ${options.out} --identities ${file}\n`,
      );
    }
    const commands = await run(tool.bin, ['output', '-json', 'kubeconfig_commands'], dir, true);
    if (commands.code === 0) {
      let contexts: Record<string, string> = {};
      try {
        contexts = contextsFromCommands(JSON.parse(commands.stdout));
      } catch {
        // not JSON: mcml deploy then asks for targets[].context
      }
      const file = join(options.out, 'contexts.json');
      await writeFile(file, JSON.stringify(contexts, null, 2) + '\n');
      process.stdout.write(
        `Kubeconfig contexts of the clusters written to ${file} (mcml deploy uses them).\n` +
          `Add the clusters to your kubeconfig with: terraform -chdir=${dir} output kubeconfig_commands\n`,
      );
    }
  }
}

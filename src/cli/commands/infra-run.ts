import { spawn } from 'node:child_process';
import { access, stat, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { McmlError } from '../../core/errors.js';
import type { InfraCommandOptions } from './infra.js';

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
  }
}

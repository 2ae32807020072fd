/**
 * End to end: spawn `node bin/mcml render` / `mcml infra` (built by `npm run build`, which
 * `npm ci` runs) on the examples and on bad input: exit codes, messages, nothing partial.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './fixtures.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function mcml(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO, 'bin/mcml'), ...args],
      { cwd, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
      else out.push(`${prefix}${e.name}`);
    }
  };
  walk(dir, '');
  return out.sort();
}

const example = join(REPO, 'examples/three-clouds/mcml.yaml');

describe('mcml render (CLI)', { timeout: 120_000 }, () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'mcml-render-cli-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes a self-contained output directory with a manifest', async () => {
    const run = await mcml(['render', '-f', example, '-o', 'out'], work);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/rendered \d+ files into out\//);
    const files = tree(join(work, 'out'));
    expect(files).toContain('.mcml-render.json');
    expect(files).toContain('terraform/aws/main.tf');
    expect(files).toContain('terraform/gcp/main.tf');
    expect(files).toContain('terraform/modules/eks/main.tf');
    expect(files).toContain('terraform/modules/gke/main.tf');
    expect(files).toContain('terraform/modules/aks/main.tf');
    expect(files).toContain('k8s/overlays/gcp-usc1/kustomization.yaml');
    expect(files).toContain('monitoring/rules.yml');
    const manifest = JSON.parse(readFileSync(join(work, 'out/.mcml-render.json'), 'utf8'));
    expect(Object.keys(manifest.files).sort()).toEqual(
      files.filter((f) => f !== '.mcml-render.json'),
    );
    // No temporary directories left beside it.
    expect(readdirSync(work)).toEqual(['out']);
  });

  it('renders again over its own output, keeping Terraform state and tfvars', async () => {
    writeFileSync(join(work, 'out/terraform/aws/terraform.tfstate'), '{"version":4}');
    writeFileSync(join(work, 'out/terraform/gcp/terraform.tfvars'), 'gcp_project = "p"\n');
    mkdirSync(join(work, 'out/terraform/aws/.terraform/providers'), { recursive: true });
    writeFileSync(join(work, 'out/terraform/aws/tfplan'), 'saved plan');
    writeFileSync(join(work, 'out/terraform/aws/ci_override.tf'), '# mine\n');
    const before = readFileSync(join(work, 'out/terraform/aws/main.tf'), 'utf8');
    const run = await mcml(['render', '-f', example, '-o', 'out'], work);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(work, 'out/terraform/aws/main.tf'), 'utf8')).toBe(before);
    expect(readFileSync(join(work, 'out/terraform/aws/terraform.tfstate'), 'utf8')).toBe(
      '{"version":4}',
    );
    expect(readFileSync(join(work, 'out/terraform/gcp/terraform.tfvars'), 'utf8')).toBe(
      'gcp_project = "p"\n',
    );
    expect(existsSync(join(work, 'out/terraform/aws/.terraform/providers'))).toBe(true);
    expect(readFileSync(join(work, 'out/terraform/aws/tfplan'), 'utf8')).toBe('saved plan');
    expect(readFileSync(join(work, 'out/terraform/aws/ci_override.tf'), 'utf8')).toBe('# mine\n');
  });

  it('refuses a directory holding files mcml did not write, unless --force; nothing changes', async () => {
    writeFileSync(join(work, 'out/notes.txt'), 'mine');
    writeFileSync(join(work, 'out/k8s/base/hpa.yaml'), 'edited by hand\n');
    const before = tree(join(work, 'out'));
    const run = await mcml(['render', '-f', example, '-o', 'out'], work);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^error: refusing to write into out: it holds files mcml did not write/,
    );
    expect(run.stderr).toMatch(/notes\.txt: was not written by mcml/);
    expect(run.stderr).toMatch(/k8s\/base\/hpa\.yaml: was changed since mcml wrote it/);
    expect(run.stderr).toMatch(/--force/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(tree(join(work, 'out'))).toEqual(before);
    expect(readFileSync(join(work, 'out/k8s/base/hpa.yaml'), 'utf8')).toBe('edited by hand\n');

    const forced = await mcml(['render', '-f', example, '-o', 'out', '--force'], work);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(work, 'out/notes.txt'), 'utf8')).toBe('mine');
    expect(readFileSync(join(work, 'out/k8s/base/hpa.yaml'), 'utf8')).toMatch(
      /HorizontalPodAutoscaler/,
    );
  });

  it('an unwritable output path: exit 2, a clear message, nothing written', async () => {
    writeFileSync(join(work, 'a-file'), '');
    const run = await mcml(['render', '-f', example, '-o', 'a-file/out'], work);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: cannot (read|write to|create) .*a-file/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    const existing = await mcml(['render', '-f', example, '-o', 'a-file'], work);
    expect(existing.code).toBe(2);
    expect(existing.stderr).toMatch(/exists and is not a directory/);
    expect(readdirSync(work).filter((n) => n.includes('mcml-tmp'))).toEqual([]);
  });

  it('a spec whose plan fails: exit 2, nothing written', async () => {
    const spec = readFileSync(example, 'utf8')
      .replace('model: V100', 'model: H100')
      .replace('region: us-central1', 'region: us-central9');
    writeFileSync(
      join(work, 'bad.yaml'),
      spec.replace('../../models/iris.onnx', 'models/iris.onnx'),
    );
    const run = await mcml(['render', '-f', 'bad.yaml', '-o', 'bad-out'], work);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: /);
    expect(existsSync(join(work, 'bad-out'))).toBe(false);
  });

  it('a plan with errors (--plan): exit 2 naming each problem, nothing written', async () => {
    const plan = JSON.parse((await mcml(['plan', '-f', example, '--json'], work)).stdout);
    plan.placements[1].replicas.min = 20;
    plan.placements[2].target = 'nowhere';
    writeFileSync(join(work, 'plan.json'), JSON.stringify(plan));
    const run = await mcml(
      ['render', '-f', example, '--plan', 'plan.json', '-o', 'plan-out'],
      work,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: the plan has errors: nothing was rendered/);
    expect(run.stderr).toMatch(/plan\.placements\[1\]\.replicas: min 20 \/ max 10/);
    expect(run.stderr).toMatch(
      /plan\.placements\[2\]\.target: "nowhere" is not a target of the spec/,
    );
    expect(existsSync(join(work, 'plan-out'))).toBe(false);
    writeFileSync(join(work, 'not-a-plan.json'), '{"hello": 1}');
    const notPlan = await mcml(
      ['render', '-f', example, '--plan', 'not-a-plan.json', '-o', 'plan-out'],
      work,
    );
    expect(notPlan.code).toBe(2);
    expect(notPlan.stderr).toMatch(/not-a-plan\.json is not a plan/);
  });

  it('--identities fills each ServiceAccount from terraform output', async () => {
    const identities = {
      'aws-use1': {
        annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/r' },
      },
      'gcp-usc1': {
        annotations: { 'iam.gke.io/gcp-service-account': 'a@p.iam.gserviceaccount.com' },
      },
      'azure-eus': { annotations: { 'azure.workload.identity/client-id': '0000-1111' } },
    };
    writeFileSync(
      join(work, 'ids.json'),
      JSON.stringify({ sensitive: false, type: ['object', {}], value: identities }),
    );
    const run = await mcml(
      ['render', '-f', example, '-o', 'id-out', '--identities', 'ids.json'],
      work,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/no workload identity yet/);
    expect(
      readFileSync(join(work, 'id-out/k8s/overlays/aws-use1/serviceaccount-patch.yaml'), 'utf8'),
    ).toContain('eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/r');
    writeFileSync(join(work, 'bad-ids.json'), '[1]');
    const bad = await mcml(
      ['render', '-f', example, '-o', 'id-out', '--identities', 'bad-ids.json'],
      work,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a map of target/);
  });

  it("front-door mode with Route 53: the dns root waits for the front doors' load balancers", async () => {
    const spec = join(work, 'fd.yaml');
    writeFileSync(
      spec,
      readFileSync(example, 'utf8').replace(
        'stablePeriod: 30s\n',
        'stablePeriod: 30s\n  dns: { provider: route53, zone: example.com, record: ml.example.com }\n',
      ),
    );
    const run = await mcml(['render', '-f', spec, '-o', 'fd-out'], work);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).toMatch(
      /dns: the DNS failover records point at each cluster's front door, whose address aws-use1, gcp-usc1 will have only after "mcml deploy"/,
    );
    // Azure's front door has a DNS label: only the other two are variables.
    const example_ = readFileSync(
      join(work, 'fd-out/terraform/dns/terraform.tfvars.example'),
      'utf8',
    );
    expect(example_.match(/^lb_host_\w+/gm)).toEqual(['lb_host_aws_use1', 'lb_host_gcp_usc1']);
    expect(readFileSync(join(work, 'fd-out/terraform/dns/main.tf'), 'utf8')).toContain(
      'ml-inference-azure-eus-fd.eastus.cloudapp.azure.com',
    );
    // Asked for by name before the deploy: exit 2 naming the variables and how to fill them.
    const dns = await mcml(['infra', 'plan', '-o', 'fd-out', '--root', 'dns'], work);
    expect(dns.code).toBe(2);
    expect(dns.stderr).toMatch(
      /the Terraform variables lb_host_aws_use1, lb_host_gcp_usc1 of fd-out\/terraform\/dns are not set/,
    );
    // Every root: dns is left for after the deploy (then terraform is looked for).
    const all = await mcml(['infra', 'plan', '-o', 'fd-out'], work, {
      PATH: '/nonexistent',
      TF_VAR_gcp_project: 'p',
      TF_VAR_azure_subscription_id: '00000000-0000-0000-0000-000000000000',
    });
    expect(all.stderr).toMatch(
      /note: dns: left for after "mcml deploy": it needs lb_host_aws_use1, lb_host_gcp_usc1/,
    );
  });

  it('mcml infra says how to install terraform or tofu when neither is on PATH', async () => {
    const unset = await mcml(['infra', 'plan', '-o', 'id-out'], work, { PATH: '/nonexistent' });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(
      /the Terraform variables gcp_project of id-out\/terraform\/gcp are not set/,
    );
    expect(unset.stderr).toMatch(/cp id-out\/terraform\/gcp\/terraform\.tfvars\.example/);
    // out/terraform/gcp has a terraform.tfvars (from an earlier test); azure's comes from TF_VAR_.
    const run = await mcml(['infra', 'plan', '-o', 'out'], work, {
      PATH: '/nonexistent',
      TF_VAR_azure_subscription_id: '00000000-0000-0000-0000-000000000000',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/neither terraform nor tofu is installed/);
    expect(run.stderr).toMatch(/opentofu\.org/);
    const missing = await mcml(['infra', 'plan', '-o', 'nothing-here'], work);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nothing-here\/terraform holds no Terraform root/);
    expect(missing.stderr).toMatch(/run "mcml render -o nothing-here" first/);
  });
});

/**
 * Terraform with the real AWS provider, from this machine's local mirror (never downloaded):
 * `terraform validate` of the AWS roots and modules, and `mcml infra plan --save` then
 * `mcml infra apply <plan>` of the aws and dns roots against moto_server (provider endpoint
 * overrides), with the state in an S3 backend on moto, then everything read back with the AWS
 * SDK. Without terraform or the mirror these tests fail with what to install: never a skip.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetRoleCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { DescribeClusterCommand, DescribeNodegroupCommand, EKSClient } from '@aws-sdk/client-eks';
import {
  CreateHostedZoneCommand,
  ListHealthChecksCommand,
  ListResourceRecordSetsCommand,
  ListTagsForResourceCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import {
  CreateBucketCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from '../../src/core/render/index.js';
import { readModules } from '../../src/engines/render/index.js';
import { mcml, repo } from '../cli/run.js';
import { startMoto, type Moto } from '../helpers/moto.js';
import { loadSpec, threeCloudsPlan } from './fixtures.js';

/** Where the AWS provider mirror is (`terraform providers mirror` layout). */
const PLUGIN_DIR = process.env.MCML_TF_PLUGIN_DIR ?? '/opt/tf-plugins';

/** terraform on PATH and the AWS provider in the mirror, or an error saying how to get them. */
function requireTerraformAndMirror(): void {
  try {
    execFileSync('terraform', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'terraform is missing: install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install, e.g. "apt-get install -y terraform" from the HashiCorp apt repository)',
    );
  }
  const aws = join(PLUGIN_DIR, 'registry.terraform.io/hashicorp/aws');
  const versions = existsSync(aws) ? readdirSync(aws) : [];
  if (!versions.some((v) => /^(5\.(1\d\d)|6\.\d+)\.\d+$/.test(v))) {
    throw new Error(
      `no AWS provider >= 5.100 in the local mirror ${aws} (found: ${versions.join(', ') || 'nothing'}): ` +
        `on a machine with registry access run "terraform providers mirror ${PLUGIN_DIR}" in a rendered terraform/aws, or set MCML_TF_PLUGIN_DIR`,
    );
  }
}

/** A CLI config with no provider installation rules: only -plugin-dir is used. */
function cliConfig(dir: string): string {
  const file = join(dir, 'terraformrc');
  writeFileSync(file, '');
  return file;
}

function write(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** The front doors' load balancers as "mcml deploy" would have made them. */
const FRONT_DOOR_LB = {
  aws: 'k8s-iris-mcmlfron-0a1b2c3d4e-5f6a7b8c9d0e1f2a.elb.us-east-1.amazonaws.com',
  gcp: '34.120.10.30',
};

const UNVALIDATED =
  'terraform validate cannot run on the gcp, azure, aws-addons and azure-addons roots nor the gke, aks, gcs-bucket and azure-blob modules here: ' +
  'their providers (google, azurerm, helm) are not in the local mirror. The HCL reference check in terraform.test.ts covers them.';

describe('Terraform with the real AWS provider', { timeout: 600_000 }, () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('terraform validate: the aws and dns roots, the eks, s3-bucket and route53-failover modules', async () => {
    requireTerraformAndMirror();
    console.warn(UNVALIDATED);
    const dir = mkdtempSync(join(tmpdir(), 'mcml-tf-validate-'));
    dirs.push(dir);
    const spec = loadSpec(
      'three-clouds.yaml',
      (t) =>
        `${t}infra:\n  state:\n    backend: s3\n    bucket: acme-tf-state\n    region: us-east-1\n  apiAccess:\n    private: true\n    authorizedCidrs: [10.9.0.0/16]\n`,
    );
    const r = render(spec, threeCloudsPlan(spec));
    write(dir, { ...r.files, ...(await readModules(r.modules)) });
    const env = { ...process.env, TF_CLI_CONFIG_FILE: cliConfig(dir), TF_IN_AUTOMATION: '1' };
    const validated: string[] = [];
    for (const sub of [
      'aws',
      'dns',
      'modules/eks',
      'modules/s3-bucket',
      'modules/route53-failover',
    ]) {
      const cwd = join(dir, 'terraform', sub);
      execFileSync(
        'terraform',
        ['init', '-backend=false', '-input=false', `-plugin-dir=${PLUGIN_DIR}`],
        {
          cwd,
          env,
          stdio: 'pipe',
        },
      );
      const out = execFileSync('terraform', ['validate', '-json', '-no-color'], {
        cwd,
        env,
      }).toString();
      const result = JSON.parse(out) as { valid: boolean; diagnostics: unknown[] };
      expect(result, `${sub}: ${out}`).toMatchObject({ valid: true });
      validated.push(sub);
    }
    expect(validated).toHaveLength(5);
  });

  describe('mcml infra plan --save, then mcml infra apply <plan>, on moto', () => {
    let moto: Moto;
    let work: string;
    let env: Record<string, string>;
    const backend = [
      'use_path_style=true',
      'skip_credentials_validation=true',
      'skip_requesting_account_id=true',
      'skip_metadata_api_check=true',
    ].flatMap((c) => ['--backend-config', c]);
    const aws = () => ({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    let zoneId = '';

    beforeAll(async () => {
      requireTerraformAndMirror();
      // The EKS module attaches AWS-managed policies, which moto loads only when asked.
      moto = await startMoto({ env: { MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' } });
      work = mkdtempSync(join(tmpdir(), 'mcml-infra-'));
      dirs.push(work);
      await new S3Client({ ...aws(), forcePathStyle: true }).send(
        new CreateBucketCommand({ Bucket: 'mcml-tf-state' }),
      );
      const zone = await new Route53Client(aws()).send(
        new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: 'mcml-infra-test' }),
      );
      zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
      writeFileSync(
        join(work, 'mcml.yaml'),
        `version: 1
service:
  name: iris
  model:
    uri: ${join(repo, 'models/iris.onnx')}
  resources:
    cpu: 2
    memory: 4Gi
  replicas:
    min: 1
    max: 3
targets:
  - name: aws-use1
    provider: aws
    region: us-east-1
    bucket: s3://mcml-infra-models
    endpoint: https://aws.ml.example.com
  - name: gcp-usc1
    provider: gcp
    region: us-central1
    endpoint: http://34.120.10.20
failover:
  dns:
    provider: route53
    zone: example.com
    record: ml.example.com
infra:
  state:
    backend: s3
    bucket: mcml-tf-state
    region: us-east-1
  apiAccess:
    private: true
`,
      );
      const rendered = await mcml(['render', '-f', 'mcml.yaml', '-o', 'out'], { cwd: work });
      expect(rendered.code, rendered.stderr).toBe(0);
      // Front-door mode (the default): the records point at each cluster's front door, whose
      // load balancer exists once "mcml deploy" has run. As a user then would, copy the
      // example and fill in what kubectl says (an NLB name on EKS, an IPv4 address on GKE).
      const example = readFileSync(
        join(work, 'out/terraform/dns/terraform.tfvars.example'),
        'utf8',
      );
      expect(example).toMatch(/lb_host_aws_use1 = .*front door/);
      writeFileSync(
        join(work, 'out/terraform/dns/terraform.tfvars'),
        example
          .replace(/^lb_host_aws_use1 = .*$/m, `lb_host_aws_use1 = "${FRONT_DOOR_LB.aws}"`)
          .replace(/^lb_host_gcp_usc1 = .*$/m, `lb_host_gcp_usc1 = "${FRONT_DOOR_LB.gcp}"`),
      );
      // Point the providers at moto: Terraform's override files merge into the rendered ones.
      const skip = `  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
`;
      write(join(work, 'out/terraform'), {
        'aws/moto_override.tf': `provider "aws" {\n  alias = "aws_use1"\n${skip}}\n`,
        'dns/moto_override.tf': `provider "aws" {\n${skip}}\n`,
        // moto has no EKS add-on API (CreateAddon answers 404): the one resource not applied.
        'modules/eks/moto_override.tf':
          'resource "aws_eks_addon" "metrics_server" {\n  count = 0\n}\n',
      });
      env = {
        ...moto.env,
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_CA_BUNDLE: '',
        TF_CLI_CONFIG_FILE: cliConfig(work),
        TF_IN_AUTOMATION: '1',
      };
    });
    afterAll(async () => {
      await moto?.stop();
    });

    it('refuses to apply without a terminal unless told how to approve: exit 2, nothing run', async () => {
      const run = await mcml(['infra', 'apply', '-o', 'out', '--root', 'aws'], { cwd: work, env });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^error: terraform apply needs a confirmation and there is no terminal/,
      );
      expect(run.stderr).toMatch(/--auto-approve/);
      expect(existsSync(join(work, 'out/terraform/aws/.terraform'))).toBe(false);
      const path = await mcml(['infra', 'plan', '-o', 'out', '--save', '/tmp/x'], {
        cwd: work,
        env,
      });
      expect(path.code).toBe(2);
      expect(path.stderr).toMatch(/a saved plan is named "tfplan" or "<name>\.tfplan"/);
      const root = await mcml(['infra', 'plan', '-o', 'out', '--root', 'azure'], {
        cwd: work,
        env,
      });
      expect(root.code).toBe(2);
      expect(root.stderr).toMatch(
        /no root azure in out\/terraform[\s\S]*aws, gcp, aws-addons, dns/,
      );
    });

    it(
      'plans, saves, applies the saved plans; resources, tags and state are in AWS',
      { timeout: 3_000_000 },
      async () => {
        const roots = ['--root', 'aws,dns', '--plugin-dir', PLUGIN_DIR, ...backend];
        const plan = await mcml(['infra', 'plan', '-o', 'out', '--save', 'tfplan', ...roots], {
          cwd: work,
          env,
          timeoutMs: 900_000,
        });
        expect(plan.code, plan.stderr + plan.stdout.slice(-3000)).toBe(0);
        expect(plan.stdout).toMatch(
          /Saved plans: out\/terraform\/aws\/tfplan, out\/terraform\/dns\/tfplan/,
        );
        expect(plan.stdout).toMatch(/Plan: \d+ to add, 0 to change, 0 to destroy/);
        const apply = await mcml(['infra', 'apply', '-o', 'out', 'tfplan', ...roots], {
          cwd: work,
          env,
          timeoutMs: 900_000,
        });
        expect(apply.code, apply.stderr + apply.stdout.slice(-3000)).toBe(0);
        expect(apply.stdout).toMatch(/Apply complete!/);

        // Workload identities for "mcml render --identities".
        const ids = JSON.parse(readFileSync(join(work, 'out/identities.json'), 'utf8'));
        expect(ids['aws-use1'].annotations['eks.amazonaws.com/role-arn']).toMatch(
          /^arn:aws:iam::\d{12}:role\/iris-aws-use1-service$/,
        );

        // One state per root, in the S3 backend.
        const s3 = new S3Client({ ...aws(), forcePathStyle: true });
        const states = await s3.send(new ListObjectsV2Command({ Bucket: 'mcml-tf-state' }));
        expect((states.Contents ?? []).map((o) => o.Key).sort()).toEqual([
          'mcml/iris/aws.tfstate',
          'mcml/iris/dns.tfstate',
        ]);

        // The bucket: versioned, tagged for cost attribution.
        const tags = await s3.send(new GetBucketTaggingCommand({ Bucket: 'mcml-infra-models' }));
        expect(Object.fromEntries((tags.TagSet ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({
          'mcml-service': 'iris',
          'mcml-target': 'aws-use1',
          'mcml-cloud': 'aws',
        });
        const versioning = await s3.send(
          new GetBucketVersioningCommand({ Bucket: 'mcml-infra-models' }),
        );
        expect(versioning.Status).toBe('Enabled');

        // IAM: the service role trusts only the service's ServiceAccount and reads only its prefix;
        // the autoscaler's role resizes only this cluster's groups.
        const iam = new IAMClient(aws());
        const role = await iam.send(new GetRoleCommand({ RoleName: 'iris-aws-use1-service' }));
        const trust = decodeURIComponent(role.Role!.AssumeRolePolicyDocument!);
        expect(trust).toMatch(/system:serviceaccount:iris:iris/);
        expect(
          Object.fromEntries((role.Role!.Tags ?? []).map((t) => [t.Key, t.Value])),
        ).toMatchObject({
          'mcml-target': 'aws-use1',
        });
        const read = await iam.send(
          new GetRolePolicyCommand({
            RoleName: 'iris-aws-use1-service',
            PolicyName: 'bucket-read',
          }),
        );
        expect(decodeURIComponent(read.PolicyDocument!)).toMatch(
          /"Resource":"arn:aws:s3:::mcml-infra-models\/\*"/,
        );
        const ca = await iam.send(
          new GetRolePolicyCommand({
            RoleName: 'iris-aws-use1-autoscaler',
            PolicyName: 'cluster-autoscaler',
          }),
        );
        expect(decodeURIComponent(ca.PolicyDocument!)).toMatch(
          /"aws:ResourceTag\/k8s\.io\/cluster-autoscaler\/iris-aws-use1":"owned"/,
        );

        // EKS: a private API endpoint, tagged; node groups from tagging launch templates.
        const eks = new EKSClient(aws());
        const cluster = await eks.send(new DescribeClusterCommand({ name: 'iris-aws-use1' }));
        expect(cluster.cluster!.resourcesVpcConfig).toMatchObject({
          endpointPublicAccess: false,
          endpointPrivateAccess: true,
        });
        expect(cluster.cluster!.tags).toMatchObject({
          'mcml-service': 'iris',
          'mcml-cloud': 'aws',
        });
        const group = await eks.send(
          new DescribeNodegroupCommand({
            clusterName: 'iris-aws-use1',
            nodegroupName: 'ml-on-demand',
          }),
        );
        expect(group.nodegroup!.launchTemplate?.id).toMatch(/^lt-/);
        expect(group.nodegroup!.scalingConfig).toMatchObject({ minSize: 1, maxSize: 3 });

        // Route 53: ordered failover records over the clusters' front doors (not the services'
        // endpoints), with a tagged health check per front door on the path it proxies.
        const r53 = new Route53Client(aws());
        const records = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
        const sets = (records.ResourceRecordSets ?? []).filter(
          (r) => r.Type !== 'NS' && r.Type !== 'SOA',
        );
        const view = sets
          .map((r) => [r.Name, r.Type, r.Failover, r.SetIdentifier, r.ResourceRecords?.[0]?.Value])
          .sort((a, b) => String(a).localeCompare(String(b)));
        console.log(
          `Route 53 records read back from moto:\n${view.map((r) => r.join(' ')).join('\n')}`,
        );
        expect(view).toEqual([
          ['gcp-usc1.lb.ml.example.com.', 'A', undefined, undefined, FRONT_DOOR_LB.gcp],
          ['ml.example.com.', 'CNAME', 'PRIMARY', 'aws-use1', FRONT_DOOR_LB.aws],
          ['ml.example.com.', 'CNAME', 'SECONDARY', 'gcp-usc1', 'gcp-usc1.lb.ml.example.com'],
        ]);
        const checks = await r53.send(new ListHealthChecksCommand({}));
        expect(checks.HealthChecks).toHaveLength(2);
        expect(
          checks
            .HealthChecks!.map((c) => c.HealthCheckConfig!)
            .map((c) => [c.Type, c.FullyQualifiedDomainName ?? c.IPAddress, c.Port, c.ResourcePath])
            .sort((a, b) => String(a).localeCompare(String(b))),
        ).toEqual([
          ['HTTP', FRONT_DOOR_LB.gcp, 80, '/v2/health/ready'],
          ['HTTP', FRONT_DOOR_LB.aws, 80, '/v2/health/ready'],
        ]);
        const checkTags = await r53.send(
          new ListTagsForResourceCommand({
            ResourceType: 'healthcheck',
            ResourceId: checks.HealthChecks![0]!.Id,
          }),
        );
        expect(
          Object.fromEntries((checkTags.ResourceTagSet?.Tags ?? []).map((t) => [t.Key, t.Value])),
        ).toMatchObject({ 'mcml-service': 'iris', 'mcml-cloud': 'aws' });

        // A second plan changes nothing of the buckets and the DNS records: no second apply.
        // (moto's EKS keeps neither access_config nor the node groups' AMI and version, and
        // its launch templates grow a tag specification of their own, so the EKS resources
        // and what hangs on the cluster's OIDC issuer differ on moto as they would not on AWS.)
        const again = await mcml(['infra', 'plan', '-o', 'out', ...roots], {
          cwd: work,
          env,
          timeoutMs: 900_000,
        });
        expect(again.code, again.stderr).toBe(0);
        const changed = [...again.stdout.matchAll(/^\s*# (\S+) (?:will be|must be)/gm)].map(
          (m) => m[1]!,
        );
        expect(changed.filter((a) => !a.startsWith('module.cluster_aws_use1.'))).toEqual([]);
        expect(
          changed.filter((a) => !/aws_(eks|iam_openid|iam_role\.|launch_template)/.test(a)),
        ).toEqual([]);
        expect(again.stdout).toMatch(
          /No changes\. Your infrastructure matches the configuration\./,
        );
      },
    );
  });
});

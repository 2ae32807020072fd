/**
 * Kubeconfig loading and context selection: one KubeConfig per target, bound to its context,
 * so several clusters are used at once without touching `current-context`.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
// The module that defines KubeConfig, not the package's index: the index also loads the
// WebSocket, tar and watch clients (exec, attach, cp), ~40 ms of every deploy command's start.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { McmlError } from '../../core/errors.js';

/** The kubeconfig files kubectl would read: --kubeconfig, else $KUBECONFIG, else ~/.kube/config. */
export function kubeconfigFiles(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (file !== undefined) return [file];
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f !== '');
  if (fromEnv.length > 0) return fromEnv;
  return [join(env.HOME ?? homedir(), '.kube', 'config')];
}

/** Loads and merges the kubeconfig files (the first file's values win, as kubectl does). */
export function loadKubeConfig(files: string[]): KubeConfig {
  const existing = files.filter((f) => existsSync(f));
  if (existing.length === 0) {
    throw new McmlError('NOT_FOUND', `no kubeconfig: ${files.join(', ')} does not exist`, {
      hint: 'run the commands of "terraform output kubeconfig_commands" (mcml infra apply prints them), or pass --kubeconfig FILE',
    });
  }
  const merged = new KubeConfig();
  for (const [i, file] of existing.entries()) {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (error) {
      throw new McmlError(
        'INVALID_ARGUMENT',
        `cannot read kubeconfig ${file}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (i === 0)
      merged.loadFromOptions({
        clusters: kc.getClusters(),
        users: kc.getUsers(),
        contexts: kc.getContexts(),
        currentContext: kc.getCurrentContext(),
      });
    else merged.mergeConfig(kc, true);
  }
  return merged;
}

/**
 * A KubeConfig bound to one context. Throws INVALID_ARGUMENT naming the target, the context
 * and the contexts that do exist when it is missing.
 */
export function configForContext(kc: KubeConfig, context: string, target: string): KubeConfig {
  const ctx = kc.getContextObject(context);
  if (!ctx) {
    const known = kc.getContexts().map((c) => c.name);
    throw new McmlError(
      'INVALID_ARGUMENT',
      `target "${target}": context "${context}" is not in the kubeconfig`,
      {
        hint:
          (known.length > 0
            ? `contexts there: ${known.join(', ')}; `
            : 'the kubeconfig has no context; ') +
          `set targets[].context in the spec, or add the cluster under that name (mcml infra apply prints the commands: terraform output kubeconfig_commands)`,
        details: { target, context, contexts: known },
      },
    );
  }
  const cluster = kc.getCluster(ctx.cluster);
  if (!cluster) {
    throw new McmlError(
      'INVALID_ARGUMENT',
      `target "${target}": context "${context}" names cluster "${ctx.cluster}", which is not in the kubeconfig`,
    );
  }
  const user = ctx.user ? kc.getUser(ctx.user) : null;
  const bound = new KubeConfig();
  bound.loadFromOptions({
    clusters: [cluster],
    users: user ? [user] : [],
    contexts: [ctx],
    currentContext: ctx.name,
  });
  return bound;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON/YAML/HCL documents */
/**
 * A reference check over Terraform files parsed by HashiCorp's HCL parser (@cdktf/hcl2json):
 * every module call passes only declared variables and all required ones, and every `var.*`,
 * `local.*`, `module.*.*`, `data.*.*` and resource reference resolves.
 */
import { parse } from '@cdktf/hcl2json';

type Json = any;

export interface ModuleInfo {
  dir: string;
  variables: Map<string, { required: boolean }>;
  outputs: Set<string>;
  locals: Set<string>;
  resources: Set<string>;
  data: Set<string>;
  modules: Map<string, { source: string; args: Record<string, Json> }>;
  providers: Set<string>;
  /** Every expression string with where it came from. */
  expressions: { where: string; text: string }[];
}

const META_ARGS = new Set(['source', 'version', 'providers', 'count', 'for_each', 'depends_on']);

function collectStrings(value: Json, where: string, out: { where: string; text: string }[]): void {
  if (typeof value === 'string') {
    if (value.includes('${')) out.push({ where, text: value });
  } else if (Array.isArray(value))
    value.forEach((v, i) => collectStrings(v, `${where}[${i}]`, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectStrings(v, `${where}.${k}`, out);
  }
}

/** Parses every file of one module directory. */
export async function loadModule(dir: string, files: Record<string, string>): Promise<ModuleInfo> {
  const info: ModuleInfo = {
    dir,
    variables: new Map(),
    outputs: new Set(),
    locals: new Set(),
    resources: new Set(),
    data: new Set(),
    modules: new Map(),
    providers: new Set(),
    expressions: [],
  };
  for (const [name, text] of Object.entries(files)) {
    const doc: Json = await parse(name, text);
    for (const [vname, blocks] of Object.entries<Json>(doc.variable ?? {})) {
      info.variables.set(vname, { required: !('default' in blocks[0]) });
    }
    for (const oname of Object.keys(doc.output ?? {})) info.outputs.add(oname);
    for (const l of doc.locals ?? []) for (const k of Object.keys(l)) info.locals.add(k);
    for (const [type, byName] of Object.entries<Json>(doc.resource ?? {})) {
      for (const n of Object.keys(byName)) info.resources.add(`${type}.${n}`);
    }
    for (const [type, byName] of Object.entries<Json>(doc.data ?? {})) {
      for (const n of Object.keys(byName)) info.data.add(`${type}.${n}`);
    }
    for (const [mname, blocks] of Object.entries<Json>(doc.module ?? {})) {
      info.modules.set(mname, { source: blocks[0].source, args: blocks[0] });
    }
    for (const [pname, blocks] of Object.entries<Json>(doc.provider ?? {})) {
      for (const b of blocks) info.providers.add(b.alias ? `${pname}.${b.alias}` : pname);
    }
    collectStrings(doc, name, info.expressions);
  }
  return info;
}

const PROVIDER_PREFIX = /^(aws|google|azurerm|helm|kubernetes)_/;

/** Problems in one module, given the modules it calls (by source path). */
export function checkModule(m: ModuleInfo, children: Map<string, ModuleInfo>): string[] {
  const problems: string[] = [];
  for (const [name, call] of m.modules) {
    const child = children.get(call.source);
    if (!child) {
      problems.push(`${m.dir}: module.${name} source ${call.source} not found`);
      continue;
    }
    for (const arg of Object.keys(call.args)) {
      if (META_ARGS.has(arg)) continue;
      if (!child.variables.has(arg))
        problems.push(`${m.dir}: module.${name} passes undeclared variable ${arg}`);
    }
    for (const [v, { required }] of child.variables) {
      if (required && !(v in call.args))
        problems.push(`${m.dir}: module.${name} misses required variable ${v}`);
    }
    const providers = call.args.providers;
    for (const p of Array.isArray(providers) ? providers : providers ? [providers] : []) {
      for (const target of Object.values<string>(p)) {
        const ref = target.replace(/^\$\{(.*)\}$/, '$1');
        if (!m.providers.has(ref))
          problems.push(`${m.dir}: module.${name} uses undeclared provider ${ref}`);
      }
    }
  }
  for (const { where, text } of m.expressions) {
    // Drop string literals inside expressions so their words are not taken as references.
    const code = text.replace(/\$\{/g, ' ').replace(/"(?:[^"\\]|\\.)*"/g, '""');
    for (const match of code.matchAll(
      /(?<![\w.])(var|local|module|data)\.([\w-]+)(?:\.([\w-]+))?(?:\.([\w-]+))?/g,
    )) {
      const [, kind, a, b, c] = match;
      if (kind === 'var' && !m.variables.has(a!))
        problems.push(`${m.dir} ${where}: var.${a} is not declared`);
      if (kind === 'local' && !m.locals.has(a!))
        problems.push(`${m.dir} ${where}: local.${a} is not defined`);
      if (kind === 'data' && !m.data.has(`${a}.${b}`))
        problems.push(`${m.dir} ${where}: data.${a}.${b} is not defined`);
      if (kind === 'module') {
        const call = m.modules.get(a!);
        const child = call && children.get(call.source);
        if (!call) problems.push(`${m.dir} ${where}: module.${a} is not called`);
        else if (child && b !== undefined && !child.outputs.has(b)) {
          problems.push(`${m.dir} ${where}: module.${a}.${b} is not an output of ${call.source}`);
        }
        void c;
      }
    }
    for (const match of code.matchAll(
      /(?<![\w.])(aws|google|azurerm|helm|kubernetes)\.([a-z_]\w*)/g,
    )) {
      const ref = `${match[1]}.${match[2]}`;
      if (!m.providers.has(ref))
        problems.push(`${m.dir} ${where}: provider ${ref} is not configured`);
    }
    for (const match of code.matchAll(/(?<![\w.])([a-z][a-z0-9]*_[a-z0-9_]+)\.([a-z_][\w-]*)/g)) {
      const [, type, name] = match;
      if (!PROVIDER_PREFIX.test(type!)) continue;
      if (!m.resources.has(`${type}.${name}`))
        problems.push(`${m.dir} ${where}: resource ${type}.${name} is not defined`);
    }
  }
  return problems;
}

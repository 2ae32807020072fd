/** Every command's register function; each command file lazy-loads its implementation. */
import type { Command } from 'commander';
import { registerInit } from './init.js';
import { registerValidate } from './validate.js';
import { registerPlan } from './plan.js';
import { registerCatalog } from './catalog.js';
import { registerServe } from './serve.js';
import { registerRender } from './render.js';
import { registerInfra } from './infra.js';
import { registerUp } from './up.js';
import { registerStatus } from './status.js';
import { registerData } from './data.js';
import { registerFailover } from './failover.js';
import { registerCost } from './cost.js';
import { registerDeploy } from './deploy.js';

export const COMMANDS: ((program: Command) => void)[] = [
  registerInit,
  registerValidate,
  registerPlan,
  registerCatalog,
  registerServe,
  registerRender,
  registerInfra,
  registerDeploy,
  registerUp,
  registerStatus,
  registerData,
  registerFailover,
  registerCost,
];

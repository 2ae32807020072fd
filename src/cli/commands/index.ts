/** Every command's register function; each command file lazy-loads its implementation. */
import type { Command } from 'commander';
import { registerInit } from './init.js';
import { registerValidate } from './validate.js';
import { registerServe } from './serve.js';

export const COMMANDS: ((program: Command) => void)[] = [
  registerInit,
  registerValidate,
  registerServe,
];

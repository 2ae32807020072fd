export { Rfc2136Provider, type Rfc2136Options } from './rfc2136-provider.js';
export type { TsigAlgorithm } from './tsig.js';

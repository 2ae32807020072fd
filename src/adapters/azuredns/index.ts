export { AzureDnsProvider, type AzureDnsOptions } from './azuredns-provider.js';

export { CloudDnsProvider, type CloudDnsOptions } from './clouddns-provider.js';

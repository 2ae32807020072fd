export {
  Route53Provider,
  type Route53Options,
  type Route53FailoverTier,
} from './route53-provider.js';

export {
  Route53Provider,
  type Route53Options,
  type Route53FailoverSide,
} from './route53-provider.js';

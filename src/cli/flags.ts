/** Checks of flag values shared by commands: a bad value is a USAGE error that shows it. */
import { McmlError } from '../core/errors.js';
import { quote } from '../core/quote.js';

/**
 * The base URL given to a flag such as `--url`: http or https, no credentials, without a
 * trailing slash ("http://127.0.0.1:8080").
 * @throws McmlError USAGE when it is not such a URL.
 */
export function baseUrlFlag(flag: string, value: string): string {
  const example = 'http://127.0.0.1:8080';
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new McmlError('USAGE', `${flag} must be a URL such as ${example}, got ${quote(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new McmlError(
      'USAGE',
      `${flag} must be an http:// or https:// URL, got ${quote(value)}`,
      { hint: `e.g. ${example}` },
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new McmlError('USAGE', `${flag} must not hold a user name or password`, {
      hint: 'pass credentials the way the command documents (e.g. MCML_ADMIN_TOKEN)',
    });
  }
  if (url.search !== '' || url.hash !== '') {
    throw new McmlError(
      'USAGE',
      `${flag} must be a base URL without "?" or "#", got ${quote(value)}`,
      { hint: `e.g. ${example}` },
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

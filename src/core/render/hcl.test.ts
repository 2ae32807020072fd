import { describe, expect, it } from 'vitest';
import { attr, blank, block, comment, expr, quote, renderFile } from './hcl.js';

describe('hcl writer', () => {
  it('aligns runs of one-line attributes and leaves multi-line ones alone, like terraform fmt', () => {
    const text = renderFile([
      block(
        'module',
        ['x'],
        [
          comment('why'),
          attr('source', './modules/x'),
          attr('n', 1),
          attr('bounds', { min: 1, max: 2 }),
          attr('longer_name', true),
          attr('b', expr('var.b')),
          blank,
          attr('list', ['a', 'b']),
        ],
      ),
    ]);
    expect(text).toBe(
      [
        'module "x" {',
        '  # why',
        '  source = "./modules/x"',
        '  n      = 1',
        '  bounds = {',
        '    min = 1',
        '    max = 2',
        '  }',
        '  longer_name = true',
        '  b           = var.b',
        '',
        '  list = ["a", "b"]',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('quotes strings so they are never interpolated', () => {
    expect(quote('a ${b} %{c} "d"')).toBe('"a $${b} %%{c} \\"d\\""');
  });
});

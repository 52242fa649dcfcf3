import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { brandPage, loadTheme } from '../src/ui/theme.ts';
import { layout } from '../src/ui/pages.ts';
import { Languages } from '../src/i18n/languages.ts';

describe('the operator\'s look (ui/theme.ts)', () => {
  test('the product name is text: markup and replacement patterns in it stay as typed', () => {
    const theme = loadTheme({ productName: 'A$&B <i>x</i>', themeColor: undefined, themeDir: undefined });
    const html = brandPage(layout(new Languages().translator('en'), '/assets', 'Title', '<p>body</p>'), theme, '/assets');
    assert.match(html, /<p class="brand">A\$&#38;B &#60;i&#62;x&#60;\/i&#62;<\/p>/);
    assert.ok(!html.includes('<!--lk:'), 'no marker left');
  });

  test('a colour gives the stylesheet variables and a darker hover', () => {
    const theme = loadTheme({ productName: 'Acme', themeColor: '#0a7d5a', themeDir: undefined });
    assert.match(theme.colorCss!, /--lk-primary:#0a7d5a;--lk-primary-hover:#[0-9a-f]{6};/);
    assert.ok(!theme.colorCss!.includes('--lk-primary-hover:#0a7d5a'), 'darker');
  });
});

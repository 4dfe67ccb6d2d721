import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderStatus } from '../src/render-status.js';

describe('status rendering of an automatic revert', () => {
  it('shows the app message when it says more than the scalers (the revert note)', () => {
    const status = {
      status: { type: 'deployed', message: 'reverted from v2 to v1: v2 did not become deployed within 3s: image not found' },
      scalers: [{ id: '1', kind: 'SpreadScaler', name: 'web', status: { type: 'deployed' } }],
      version: '',
      components: [],
    };
    const out = renderStatus('shop', { result: 'ok', message: '', status }, 'text', 'v1');
    assert.deepEqual(out.stdout, [
      'shop@v1 - deployed',
      '  reverted from v2 to v1: v2 did not become deployed within 3s: image not found',
      '  Name  Kind          Status    Message',
      '  web   SpreadScaler  deployed',
    ]);
  });
});

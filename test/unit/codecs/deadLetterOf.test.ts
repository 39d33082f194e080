import { describe, expect, it } from 'vitest';
import { deadLetter } from '../../../src/codecs/deadLetterOf.js';
import { keyText } from '../../../src/codecs/payloadText.js';

const source = { topic: 't', partition: 0, offset: '1', key: null };

describe('deadLetter', () => {
  it('keeps valid UTF-8 bytes as text', () => {
    const d = deadLetter('invalid_json', 'm', source, new TextEncoder().encode('héllo ✓'));
    expect(d).toEqual({ reason: 'invalid_json', message: 'm', source, payload: 'héllo ✓' });
  });
  it('keeps invalid UTF-8 as base64', () => {
    const bytes = new Uint8Array([0xc3, 0x28, 0x00, 0xff]);
    expect(deadLetter('invalid_json', 'm', source, bytes)).toEqual({
      reason: 'invalid_json', message: 'm', source, payload: 'wygA/w==', encoding: 'base64',
    });
  });
  it('serialises to the DESIGN.md shape', () => {
    const json = JSON.parse(JSON.stringify(deadLetter('invalid_value', 'why', { ...source, key: 'k' }, 'x')));
    expect(Object.keys(json)).toEqual(['reason', 'message', 'source', 'payload']);
  });
  it('truncates payloads beyond 1 MiB at a character boundary', () => {
    const text = 'é'.repeat(600_000); // 1.2 MB of 2-byte characters
    const d = deadLetter('too_large', 'm', source, new TextEncoder().encode(text));
    expect(d.encoding).toBeUndefined();
    expect(d.payload).toBe('é'.repeat(32 * 1024));
    expect(d.message).toMatch(/truncated/);
  });
  it('handles subarray views without reading outside them', () => {
    const backing = new TextEncoder().encode('xxhixx');
    expect(deadLetter('invalid_json', 'm', source, backing.subarray(2, 4)).payload).toBe('hi');
  });
});

describe('keyText', () => {
  it('maps keys to text without throwing', () => {
    expect(keyText(null)).toBeNull();
    expect(keyText('k')).toBe('k');
    expect(keyText(new TextEncoder().encode('host-1'))).toBe('host-1');
    expect(keyText(new Uint8Array([0xff]))).toBe('base64:/w==');
  });
});

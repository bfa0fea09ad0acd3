import { describe, expect, it } from 'vitest';
import { OwnWrites } from '../../../src/controller/own-writes.ts';

// What we wrote stands in for an informer cache that has not caught up, and only until it has.

const v = (uid: string, rv: string) => ({ metadata: { uid, resourceVersion: rv } });

describe('own writes over a lagging cache', () => {
  it('a cache still showing the version we replaced (or nothing, after a create) gives our write', () => {
    const w = new OwnWrites<ReturnType<typeof v>>();
    w.wrote('a', v('u', '1'), v('u', '2'));
    expect(w.view('a', v('u', '1'))).toEqual(v('u', '2'));
    w.wrote('b', undefined, v('u', '5'));
    expect(w.view('b', undefined)).toEqual(v('u', '5'));
  });

  it('once the cache shows our write or anything newer, the cache is believed again', () => {
    const w = new OwnWrites<ReturnType<typeof v>>();
    w.wrote('a', v('u', '1'), v('u', '2'));
    expect(w.view('a', v('u', '3'))).toEqual(v('u', '3'));
    // The entry is gone: even the old version now comes from the cache.
    expect(w.view('a', v('u', '1'))).toEqual(v('u', '1'));
  });

  it('a deletion of what we created, seen by the watch, ends the stand-in (the object is gone)', () => {
    const w = new OwnWrites<ReturnType<typeof v>>();
    w.wrote('a', undefined, v('u', '2'));
    w.seen('a', v('other', '1'), true); // an older object of the same name: not ours
    expect(w.view('a', undefined)).toEqual(v('u', '2'));
    w.seen('a', v('u', '2'), true);
    expect(w.view('a', undefined)).toBeUndefined();
  });

  it('our delete hides the cached copy until the watch drops it', () => {
    const w = new OwnWrites<ReturnType<typeof v>>();
    w.wrote('a', v('u', '4'), undefined);
    expect(w.view('a', v('u', '4'))).toBeUndefined();
  });

  it('an entry older than its limit is ignored', async () => {
    const w = new OwnWrites<ReturnType<typeof v>>(0);
    w.wrote('a', v('u', '1'), v('u', '2'));
    await new Promise((r) => setTimeout(r, 5));
    expect(w.view('a', v('u', '1'))).toEqual(v('u', '1'));
  });
});

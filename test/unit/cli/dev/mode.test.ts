import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseDevMode, missingNodeTools } from '../../../../src/cli/dev/mode.ts';

describe('which mode keywarden dev runs in', () => {
  it('runs the node-backed system by default, as root with the node prerequisites', () => {
    expect(chooseDevMode({ processes: false, root: true, missing: [] })).toEqual({ mode: 'node' });
  });

  it('runs the process-only mode when asked, with no note', () => {
    expect(chooseDevMode({ processes: true, root: false, missing: ['containerd'] })).toEqual({
      mode: 'processes',
    });
  });

  it('falls back to the process-only mode when not root, and says why and how to get the node', () => {
    const choice = chooseDevMode({ processes: false, root: false, missing: [] });
    expect(choice.mode).toBe('processes');
    expect(choice.mode === 'processes' && choice.reason).toMatch(/needs root.*scripts\/dev\.sh as root/s);
  });

  it('falls back when a prerequisite is missing, naming it', () => {
    const choice = chooseDevMode({ processes: false, root: true, missing: ['buildah', 'mmdebstrap'] });
    expect(choice.mode === 'processes' && choice.reason).toMatch(/needs buildah, mmdebstrap.*apt-get/s);
  });

  it('finds the node prerequisites on PATH and names the ones absent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-path-'));
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'containerd'), '');
    mkdirSync(join(dir, 'empty'));
    // Debian puts containerd in /usr/bin, which this PATH leaves out.
    expect(missingNodeTools(join(dir, 'empty'))).toContain('containerd');
    const missing = missingNodeTools(join(dir, 'bin'));
    expect(missing).not.toContain('containerd');
    // /usr/sbin and /sbin are always searched (iptables lives there); whatever this machine lacks is named.
    for (const m of missing)
      expect(m).toMatch(/^(runc|buildah|mmdebstrap|iptables|conntrack|nsenter|CNI plugins)/);
  });
});

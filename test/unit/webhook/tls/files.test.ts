import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/observability/logger.ts';
import { createCa, issueCert } from '../../../../src/pki/index.ts';
import { FileCertificateSource } from '../../../../src/webhook/tls/files.ts';
import { CertificateHolder } from '../../../../src/webhook/tls/holder.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function pair() {
  const ca = await createCa('ca', new Date(Date.now() + 3600_000));
  return issueCert(ca, {
    commonName: 'w',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    notAfter: new Date(Date.now() + 3600_000),
  });
}

describe('--tls-mode=files', () => {
  it('loads the files, reloads a new pair, and keeps the old one when the new files do not match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-tls-'));
    dirs.push(dir);
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    const first = await pair();
    writeFileSync(certFile, first.certPem);
    writeFileSync(keyFile, first.keyPem);
    const holder = new CertificateHolder();
    const changes: string[] = [];
    holder.on('change', (c) => changes.push(c.serialNumber));
    const source = new FileCertificateSource({
      certFile,
      keyFile,
      holder,
      log: createLogger('t', 'silent'),
      intervalMs: 60_000,
    });
    await source.start();
    expect(holder.current?.certPem).toBe(first.certPem);

    const second = await pair();
    writeFileSync(certFile, second.certPem);
    await expect(source.load()).rejects.toThrow(/not a matching certificate and key/);
    expect(holder.current?.certPem).toBe(first.certPem);

    writeFileSync(keyFile, second.keyPem);
    await source.load();
    expect(holder.current?.certPem).toBe(second.certPem);
    expect(changes).toHaveLength(2);
    source.stop();
  });

  it('fails to start without the files', async () => {
    const source = new FileCertificateSource({
      certFile: '/nonexistent/tls.crt',
      keyFile: '/nonexistent/tls.key',
      holder: new CertificateHolder(),
      log: createLogger('t', 'silent'),
      intervalMs: 60_000,
    });
    await expect(source.start()).rejects.toThrow(/ENOENT/);
  });
});

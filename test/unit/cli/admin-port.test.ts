import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { adminPortOf, adminPortOption, healthPortAlias } from '../../../src/cli/options.ts';

// --admin-port is the one name of the /healthz, /readyz, /metrics port; --health-port (the webhook's
// and the controller's older name, passed by the chart) keeps working, hidden from --help.

function parse(args: string[]) {
  const cmd = new Command()
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .addOption(adminPortOption(8081))
    .addOption(healthPortAlias());
  cmd.parse(args, { from: 'user' });
  return { port: adminPortOf(cmd.opts(), 8081), help: cmd.helpInformation() };
}

describe('admin port flags', () => {
  it('the default, --admin-port, and --health-port as the older name', () => {
    expect(parse([]).port).toBe(8081);
    expect(parse(['--admin-port', '9090']).port).toBe(9090);
    expect(parse(['--health-port=0']).port).toBe(0);
    expect(parse(['--admin-port', '1', '--health-port', '2']).port).toBe(1);
  });

  it('--help names only --admin-port', () => {
    const { help } = parse([]);
    expect(help).toContain('--admin-port <port>');
    expect(help).toContain('(default: 8081)');
    expect(help).not.toContain('--health-port');
  });

  it('refuses what is not a port', () => {
    for (const bad of ['-1', '65536', 'x', '1.5'])
      expect(() => parse(['--admin-port', bad])).toThrow(/not a port/);
    expect(() => parse(['--health-port', '99999'])).toThrow(/not a port/);
  });
});

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Command, InvalidArgumentError, type Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { DURATION_ARG } from '../../../src/cli/options.ts';
import { buildProgram } from '../../../src/cli/program.ts';
import { DURATION_PATTERN } from '../../../src/rules/index.ts';

// `--help` speaks one duration language: every duration flag of every subcommand takes Go-style text
// (90s, 10m, 24h, 500ms) and shows its default the same way, never as bare milliseconds.

const run = promisify(execFile);
const MAIN = 'src/cli/main.ts';
const GO_DURATION = new RegExp(DURATION_PATTERN);
/** Flag names that say "this is a length of time": such a flag must be a <duration> flag. */
const SOUNDS_LIKE_TIME =
  /ttl|interval|timeout|validity|period|resync|renew|before|delay|grace|max-age|duration/;

/** Every command path under `keywarden`, e.g. ['audit', 'usage']. */
function commandPaths(cmd: Command, prefix: string[] = []): { path: string[]; cmd: Command }[] {
  return cmd.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => [{ path: [...prefix, c.name()], cmd: c }, ...commandPaths(c, [...prefix, c.name()])]);
}

const program = buildProgram();
const commands = commandPaths(program);
const durationOptions = commands.flatMap(({ path, cmd }) =>
  (cmd.options as Option[]).filter((o) => o.flags.endsWith(DURATION_ARG)).map((o) => ({ path, option: o })),
);

/** What `keywarden <path> --help` prints, from the real entry point (one CLI start costs seconds of CPU). */
async function help(path: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [MAIN, ...path, '--help'], { encoding: 'utf8' });
  return stdout;
}

/** Option entries of a help text, with wrapped description lines joined. */
function optionEntries(text: string): string[] {
  const section = text.slice(text.indexOf('Options:'));
  const entries: string[] = [];
  for (const line of section.split('\n').slice(1)) {
    if (/^ {2}-/.test(line)) entries.push(line.trim());
    else if (/^ {4,}\S/.test(line) && entries.length > 0) entries[entries.length - 1] += ` ${line.trim()}`;
    else if (line.trim() === '' || /^\S/.test(line)) break;
  }
  return entries;
}

describe('duration flags', () => {
  it('exist on the servers and commands that take lengths of time', () => {
    const names = durationOptions.map(({ path, option }) => `${path.join(' ')} ${option.long}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'controller --delivery-ttl',
        'controller --resync',
        'webhook --tls-reload-interval',
        'webhook --cert-validity',
        'webhook --cert-renew-before',
        'webhook --ca-validity',
        'regenerate --grace-period',
      ]),
    );
  });

  it('--help of every subcommand shows every duration default Go-style, never bare milliseconds', async () => {
    // commander's --help prints helpInformation(); the real entry point is asked once, to prove it.
    const pages = commands.map(({ path, cmd }) => ({ path, text: cmd.helpInformation() }));
    const controller = pages.find((p) => p.path.join(' ') === 'controller')?.text ?? '';
    const fromMain = await help(['controller']);
    for (const flag of ['--delivery-ttl <duration>', '--resync <duration>'])
      expect(
        optionEntries(fromMain)
          .find((e) => e.startsWith(flag))
          ?.replace(/\s+/g, ' '),
      ).toBe(
        optionEntries(controller)
          .find((e) => e.startsWith(flag))
          ?.replace(/\s+/g, ' '),
      );
    expect(fromMain).toMatch(
      /--delivery-ttl <duration>\s+how long an unrevealed key is kept \(default: 24h\)/,
    );
    expect(fromMain).toMatch(/--resync <duration>\s+reconcile every key again this often \(default:\s+10m\)/);
    let durationFlagsSeen = 0;
    for (const { path, text } of pages) {
      for (const entry of optionEntries(text)) {
        const [flags = ''] = entry.split(/ {2,}/);
        const where = `keywarden ${path.join(' ')}: ${entry}`;
        const long = /--[a-z-]+/.exec(flags)?.[0] ?? '';
        if (SOUNDS_LIKE_TIME.test(long))
          expect(flags, `${where}: a length of time must be a ${DURATION_ARG} flag`).toContain(DURATION_ARG);
        if (!flags.includes(DURATION_ARG)) continue;
        durationFlagsSeen++;
        const shown = /\(default: ([^)]*)\)/.exec(entry)?.[1];
        if (shown !== undefined) expect(shown, where).toMatch(GO_DURATION);
        expect(entry, where).not.toMatch(/default: "?\d+"?\)/);
      }
    }
    expect(durationFlagsSeen).toBe(durationOptions.length);
  }, 90_000);

  it.each(durationOptions.map(({ path, option }) => [`${path.join(' ')} ${option.long}`, option] as const))(
    '%s takes 90s and refuses 90 with a clear error',
    (_name, option) => {
      const parse = (v: string) => option.parseArg?.(v, undefined);
      expect([90_000, '90s']).toContain(parse('90s'));
      expect([1_500, '1s500ms']).toContain(parse('1s500ms'));
      expect(() => parse('90')).toThrow(InvalidArgumentError);
      expect(() => parse('90')).toThrow(
        '"90" is not a valid duration: use whole numbers with the units ms, s, m, h',
      );
      expect(() => parse('2d')).toThrow('there is no d unit: write days as hours, e.g. 24h');
    },
  );

  it('the real entry point: a bad value exits 2 naming the flag; 90s gets past flag parsing', async () => {
    const bad = await run(process.execPath, [MAIN, 'controller', '--resync', '90000'], {
      encoding: 'utf8',
    }).catch((e: { code: number; stderr: string }) => e);
    expect('code' in bad && bad.code).toBe(2);
    expect(bad.stderr).toContain(
      `option '--resync <duration>' argument '90000' is invalid. "90000" is not a valid duration`,
    );
    // files mode without its files fails after flag parsing: the duration was accepted.
    const good = await run(
      process.execPath,
      [MAIN, 'webhook', '--tls-mode', 'files', '--tls-reload-interval', '90s'],
      { encoding: 'utf8' },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(good.stderr).toBe('keywarden: --tls-mode=files needs --tls-cert-file and --tls-key-file\n');
  }, 90_000);
});

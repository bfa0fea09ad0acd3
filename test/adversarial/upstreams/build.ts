// scripts/test.sh: build the Go net/http upstream of the differential path test before vitest runs
// (cached under ~/.cache/keywarden/upstreams by its source hash; the test builds it too if missing).
import { buildGoUpstream } from './index.ts';

process.stdout.write(`${await buildGoUpstream()}\n`);

// The V8 flags every keywarden process runs with, wherever it runs: the image's ENTRYPOINT
// (Dockerfile), bin/keywarden and bin/kubectl-keywarden, the processes `keywarden dev --processes`
// starts, and the validator processes of the benches and the soak. Tests pin the Dockerfile and bin/
// to this list (test/unit/repo/node-flags.test.ts).
//
// A young generation fixed at 16 MiB per semi-space. V8 sizes it from the memory it may use: on a
// 24 GiB machine up to 64 MiB, but in a container limited to 256-512 MiB (the sidecar's and the
// controller's limits) 1 MiB, and it shrinks to that floor again whenever the process idles. At
// ~14 KB allocated per forward-auth answer, 1 MiB is a scavenge every ~70 requests, each with a fixed
// cost of 0.3-1 ms: ~5-7 µs of GC per request and a pause that lands in the p99. Pinned at 16 MiB:
// one every ~1,000 requests, <1 µs per request, for at most ~30 MiB more RSS. See docs/DECISIONS.md.
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

// The V8 flags every keywarden process runs with, wherever it runs: the image's ENTRYPOINT
// (Dockerfile), bin/keywarden and bin/kubectl-keywarden, the processes `keywarden dev --processes`
// starts, and the validator processes of the benches and the soak. Tests pin the Dockerfile and bin/
// to this list (test/unit/repo/node-flags.test.ts).
//
// A young generation fixed at 16 MiB per semi-space. V8 sizes it from the memory it may use: on a
// 24 GiB machine up to 64 MiB, but in a container limited to 256-512 MiB (the sidecar's and the
// controller's limits) 1 MiB, and an idle process may shrink it to its floor again. At 1 MiB the
// validator scavenges every ~90 /authz answers or ~45 proxied requests: measured, ~5 µs of GC pause
// per /authz request and ~19 µs per proxied one, against 0.75 and 2.5 µs at a fixed 16 MiB, which
// costs up to 32 MiB of RSS once allocation has touched it. Numbers and why every subcommand:
// docs/DECISIONS.md ("The hot paths, second round").
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

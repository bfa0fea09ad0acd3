#!/usr/bin/env bash
# Prints the path of the pinned helm (built once from its Go module).
exec bash "$(dirname "${BASH_SOURCE[0]}")/../build-go-tool.sh" helm

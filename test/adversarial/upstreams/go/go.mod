module keywarden.dev/test/upstream

go 1.24

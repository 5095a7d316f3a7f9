// Package bench holds Gatehouse's load benchmarks: Go benchmarks that run
// real GraphQL requests over HTTP against SQLite and PostgreSQL, and report
// latency percentiles and SQL statements per request next to ns/op, and
// BenchmarkSign, the raw signing rate that bench/oidc.sh (the OpenID
// provider side by side, with the load generator in bench/load) holds the
// token endpoint against.
//
// The package has no code of its own, only benchmarks, so `go test ./...`
// compiles it and runs nothing; databases are created and seeded inside the
// benchmarks, never at package initialization. Run them with run.sh, which
// uses the flags behind docs/BENCHMARKS.md:
//
//	GATEHOUSE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable bench/run.sh
//
// or one cell with go test:
//
//	go test ./bench -run '^$' -bench 'MembersPage/postgres/100k' -benchtime=2000x
//
// Without GATEHOUSE_TEST_DATABASE_URL the PostgreSQL benchmarks are skipped.
package bench

// Package testkit holds what many packages' tests need and would otherwise
// write again: a clock the test owns, a cookie jar that reads that clock,
// log sinks (a buffer for concurrent writers, the test's own log), and the
// skip-or-fail rule for a missing dependency (Missing; ServerURL, which
// testdb uses for PostgreSQL, and RedisURL). It is imported by tests only.
package testkit

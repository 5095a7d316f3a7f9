// Package testkit holds what many packages' tests need and would otherwise
// write again: a clock the test owns, a cookie jar that reads that clock,
// and log sinks (a buffer for concurrent writers, the test's own log). It
// is imported by tests only.
package testkit

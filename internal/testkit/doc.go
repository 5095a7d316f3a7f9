// Package testkit holds what many packages' tests need and would otherwise
// write again: a clock the test owns, and a cookie jar that reads that
// clock. It is imported by tests only.
package testkit

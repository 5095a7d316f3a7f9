// Package httpserver is Gatehouse's HTTP plumbing with no domain rules:
// request ids, access logs, panic recovery, Prometheus metrics, body limits,
// health probes and a server that shuts down gracefully.
package httpserver

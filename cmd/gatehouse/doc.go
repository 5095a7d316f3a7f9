// Command gatehouse runs the Gatehouse identity server and its operator
// tasks: serve, migrate, apikey create, users import, keys rotate, keys
// revoke and version. It is the only place that reads flags and
// GATEHOUSE_* variables and wires the packages together.
package main

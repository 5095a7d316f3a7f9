// Package config reads Gatehouse's settings from command-line flags and
// GATEHOUSE_* environment variables (a flag wins over the environment, the
// environment over the default) and validates them all at once. Only
// cmd/gatehouse uses it: library packages take their settings as arguments.
package config

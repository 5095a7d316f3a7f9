// Package gatehouse is the root of the Gatehouse module. It holds only the
// code-generation directives: ent and entgql first, then gqlgen.
package gatehouse

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go tool gqlgen generate

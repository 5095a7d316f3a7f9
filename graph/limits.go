package graph

import (
	"context"
	"fmt"
	"strings"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/graph/generated"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// Limits that keep one document from exhausting the server for everyone
// (SECURITY-CHECKLIST MT-05, MT-06).
const (
	// MaxPageSize caps first/last on every connection; a connection asked
	// for without either returns DefaultPageSize items.
	MaxPageSize     = 100
	DefaultPageSize = 20
	// MaxDepth bounds selection nesting, fragments included.
	MaxDepth = 12
	// MaxAliases bounds aliased fields per document, so one request cannot
	// run the same mutation hundreds of times under different names.
	MaxAliases = 30
	// MaxComplexity bounds the estimated cost: each field costs 1, and a
	// connection multiplies its children by its page size.
	MaxComplexity = 20000
	// parserTokenLimit bounds the lexer before any validation runs.
	parserTokenLimit = 20000
)

// pageSize is the number of items a connection field will return.
func pageSize(first, last *int) int {
	switch {
	case first != nil:
		return max(*first, 0)
	case last != nil:
		return max(*last, 0)
	}
	return DefaultPageSize
}

func connectionCost(child int, first, last *int) int { return 1 + child*max(pageSize(first, last), 1) }

// complexity prices the connection fields and nodes(ids:).
func complexity() generated.ComplexityRoot {
	type cursor = *entgql.Cursor[pulid.ID]
	var c generated.ComplexityRoot
	c.Query.Nodes = func(child int, ids []pulid.ID) int { return 1 + child*max(len(ids), 1) }
	c.Query.Organizations = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.OrganizationOrder, _ *ent.OrganizationWhereInput) int {
		return connectionCost(child, first, last)
	}
	c.Query.Users = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.UserOrder, _ *ent.UserWhereInput) int {
		return connectionCost(child, first, last)
	}
	c.Query.Applications = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.ApplicationOrder, _ *ent.ApplicationWhereInput) int {
		return connectionCost(child, first, last)
	}
	c.Query.AuditEvents = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.AuditEventOrder, _ *ent.AuditEventWhereInput) int {
		return connectionCost(child, first, last)
	}
	c.Organization.Memberships = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.MembershipOrder, _ *ent.MembershipWhereInput) int {
		return connectionCost(child, first, last)
	}
	c.Organization.Domains = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.DomainOrder, _ *ent.DomainWhereInput) int {
		return connectionCost(child, first, last)
	}
	c.Organization.Connections = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.ConnectionOrder, _ *ent.ConnectionWhereInput) int {
		return connectionCost(child, first, last)
	}
	c.User.Memberships = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.MembershipOrder) int {
		return connectionCost(child, first, last)
	}
	return c
}

// capPages is a field middleware: it rejects first/last outside 0..MaxPageSize
// on connection fields and gives connections without either a default page,
// so no list is ever unbounded.
func capPages(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Definition == nil || !strings.HasSuffix(fc.Field.Definition.Type.Name(), "Connection") {
		return next(ctx)
	}
	first, _ := fc.Args["first"].(*int)
	last, _ := fc.Args["last"].(*int)
	for _, a := range []struct {
		name string
		v    *int
	}{{"first", first}, {"last", last}} {
		if a.v != nil && (*a.v < 0 || *a.v > MaxPageSize) {
			return nil, &tenants.InputError{Field: a.name, Reason: fmt.Sprintf("must be between 0 and %d", MaxPageSize)}
		}
	}
	if first == nil && last == nil {
		n := DefaultPageSize
		fc.Args["first"] = &n
	}
	return next(ctx)
}

// shapeLimits rejects documents nested deeper than MaxDepth or with more
// than MaxAliases aliases, before anything executes.
type shapeLimits struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = shapeLimits{}

func (shapeLimits) ExtensionName() string                   { return "ShapeLimits" }
func (shapeLimits) Validate(graphql.ExecutableSchema) error { return nil }
func (shapeLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	var m shape
	m.walk(oc.Doc, oc.Operation.SelectionSet, 1, map[string]bool{})
	switch {
	case m.depth > MaxDepth:
		return limitError(fmt.Sprintf("query is nested %d levels deep; the limit is %d", m.depth, MaxDepth))
	case m.aliases > MaxAliases:
		return limitError(fmt.Sprintf("query uses %d aliases; the limit is %d", m.aliases, MaxAliases))
	}
	return nil
}

func limitError(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": "QUERY_TOO_COMPLEX"}}
}

type shape struct{ depth, aliases int }

// walk measures a selection set. Fragment cycles are already rejected by
// validation; onPath guards anyway.
func (m *shape) walk(doc *ast.QueryDocument, set ast.SelectionSet, depth int, onPath map[string]bool) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			m.depth = max(m.depth, depth)
			if s.Alias != "" && s.Alias != s.Name {
				m.aliases++
			}
			m.walk(doc, s.SelectionSet, depth+1, onPath)
		case *ast.InlineFragment:
			m.walk(doc, s.SelectionSet, depth, onPath)
		case *ast.FragmentSpread:
			f := doc.Fragments.ForName(s.Name)
			if f == nil || onPath[s.Name] {
				continue
			}
			onPath[s.Name] = true
			m.walk(doc, f.SelectionSet, depth, onPath)
			delete(onPath, s.Name)
		}
	}
}

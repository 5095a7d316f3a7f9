package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/graph/generated"
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
	// Plain lists are priced as a default page: a user's live sessions and
	// a funnel range are usually a few dozen rows (Funnel refuses a range
	// of more than 10,000), and a users page of 100 asking for each one's
	// sessions should cost like a nested connection.
	c.User.Sessions = func(child int) int { return 1 + child*DefaultPageSize }
	c.Query.Funnel = func(child int, _, _ string, _ *pulid.ID) int { return 1 + child*MaxPageSize }
	return c
}

// shapeLimits checks a document before anything executes: nesting deeper
// than MaxDepth, more than MaxAliases aliases, or first/last outside
// 0..MaxPageSize reject it; a connection with neither first nor last gets
// first: DefaultPageSize written into the document, so that nested
// connections, which ent loads eagerly with their parent, are bounded too.
// It rewrites the request's own AST: the handler keeps no query cache.
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
	m := shape{vars: oc.Variables}
	m.walk(oc.Doc, oc.Operation.SelectionSet, 1, map[string]bool{})
	switch {
	case m.err != nil:
		return m.err
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

type shape struct {
	depth, aliases int
	vars           map[string]any
	err            *gqlerror.Error
}

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
			if s.Definition != nil && strings.HasSuffix(s.Definition.Type.Name(), "Connection") && m.err == nil {
				m.err = boundPage(s, m.vars)
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

// boundPage checks first/last of a connection field and gives it a default
// page when it has neither.
func boundPage(f *ast.Field, vars map[string]any) *gqlerror.Error {
	args := f.ArgumentMap(vars)
	given := false
	for _, name := range []string{"first", "last"} {
		v, ok := args[name]
		if !ok || v == nil {
			continue
		}
		given = true
		n, ok := asInt(v)
		if !ok || n < 0 || n > MaxPageSize {
			return &gqlerror.Error{
				Message:    fmt.Sprintf("%s: must be between 0 and %d", name, MaxPageSize),
				Path:       ast.Path{ast.PathName(f.Alias)},
				Extensions: map[string]any{"code": CodeBadUserInput, "field": name},
			}
		}
	}
	if !given {
		f.Arguments = append(f.Arguments, &ast.Argument{Name: "first",
			Value: &ast.Value{Kind: ast.IntValue, Raw: strconv.Itoa(DefaultPageSize)}})
	}
	return nil
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		return int64(n), n == float64(int64(n))
	}
	return 0, false
}

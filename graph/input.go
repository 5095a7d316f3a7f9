package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// textInput refuses a request any of whose input text holds U+0000, in a
// literal of the document or in a variable, metadata included, before a
// resolver runs. PostgreSQL cannot store the character in text and jsonb
// and SQLite can, so without this one request would be stored on one
// database and fail with an internal error on the other.
type textInput struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = textInput{}

func (textInput) ExtensionName() string                   { return "TextInput" }
func (textInput) Validate(graphql.ExecutableSchema) error { return nil }

func (textInput) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if hasNUL(oc.Variables) || oc.Doc != nil && docHasNUL(oc.Doc) {
		return &gqlerror.Error{
			Message:    "input text must not contain the NUL character (U+0000)",
			Extensions: map[string]any{"code": CodeBadUserInput},
		}
	}
	return nil
}

// hasNUL reports whether a decoded JSON value holds U+0000 in a string or
// an object key.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case map[string]any:
		for k, e := range v {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if hasNUL(e) {
				return true
			}
		}
	}
	return false
}

func docHasNUL(doc *ast.QueryDocument) bool {
	for _, op := range doc.Operations {
		if setHasNUL(op.SelectionSet) || directivesHaveNUL(op.Directives) {
			return true
		}
		for _, d := range op.VariableDefinitions {
			if valueHasNUL(d.DefaultValue) {
				return true
			}
		}
	}
	for _, f := range doc.Fragments {
		if setHasNUL(f.SelectionSet) || directivesHaveNUL(f.Directives) {
			return true
		}
	}
	return false
}

func setHasNUL(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			for _, a := range s.Arguments {
				if valueHasNUL(a.Value) {
					return true
				}
			}
			if directivesHaveNUL(s.Directives) || setHasNUL(s.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if directivesHaveNUL(s.Directives) || setHasNUL(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if directivesHaveNUL(s.Directives) {
				return true
			}
		}
	}
	return false
}

func directivesHaveNUL(ds ast.DirectiveList) bool {
	for _, d := range ds {
		for _, a := range d.Arguments {
			if valueHasNUL(a.Value) {
				return true
			}
		}
	}
	return false
}

func valueHasNUL(v *ast.Value) bool {
	if v == nil {
		return false
	}
	if (v.Kind == ast.StringValue || v.Kind == ast.BlockValue) && strings.IndexByte(v.Raw, 0) >= 0 {
		return true
	}
	for _, c := range v.Children {
		if strings.IndexByte(c.Name, 0) >= 0 || valueHasNUL(c.Value) {
			return true
		}
	}
	return false
}

package schema

// JoinIndexAnnotation asks for an index on columns of the join table of a
// many-to-many edge. ent creates a join table with only its composite primary
// key, which serves lookups by its first column alone, and its Indexes()
// cannot name a join table. ent/template/joinindex.tmpl turns the annotation
// into ent/migrate/joinindex.go, which adds the index to ent/migrate's table,
// so migrations/gen writes it and the drift test checks it.
type JoinIndexAnnotation struct {
	Columns []string
}

// Name implements schema.Annotation.
func (JoinIndexAnnotation) Name() string { return "JoinIndex" }

// JoinIndex indexes columns of the annotated edge's join table (edge.To of a
// many-to-many edge). The index is named like ent's own: the table name
// without underscores, then the columns.
func JoinIndex(columns ...string) JoinIndexAnnotation {
	return JoinIndexAnnotation{Columns: columns}
}

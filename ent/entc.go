//go:build ignore

// entc generates the ent client and the entgql GraphQL schema from
// ent/schema. Run it from the repository root (go generate ./...), so that
// the schema path below is spelled exactly as gqlgen.yml sees it.
package main

import (
	"log"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("graph/ent.graphql"),
		entgql.WithConfigPath("gqlgen.yml"),
		entgql.WithWhereInputs(true),
		entgql.WithRelaySpec(true),
	)
	if err != nil {
		log.Fatalf("entgql extension: %v", err)
	}
	cfg := &gen.Config{
		Features: []gen.Feature{
			gen.FeatureVersionedMigration,
			gen.FeatureIntercept,
			gen.FeaturePrivacy,
			gen.FeatureEntQL,
			gen.FeatureLock,
			gen.FeatureExecQuery,
		},
		Templates: []*gen.Template{
			gen.MustParse(gen.NewTemplate("pulid").ParseFiles("ent/template/pulid.tmpl")),
			gen.MustParse(gen.NewTemplate("joinindex").ParseFiles("ent/template/joinindex.tmpl")),
		},
	}
	// Later templates override earlier ones of the same name, and the
	// extension appends entgql's templates: add the override after it.
	overridePaginate := func(c *gen.Config) error {
		c.Templates = append(c.Templates, gen.MustParse(gen.NewTemplate("paginate").
			Funcs(entgql.TemplateFuncs).ParseFiles("ent/template/paginate.tmpl")))
		return nil
	}
	if err := entc.Generate("./ent/schema", cfg, entc.Extensions(ex), overridePaginate); err != nil {
		log.Fatalf("ent codegen: %v", err)
	}
}

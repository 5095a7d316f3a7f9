package schema

// Entities of the OpenID Provider (federation/provider). All are
// instance-level: the authorizer shows them to no organization viewer, and
// the provider reads and writes them as the System viewer. None is exposed
// through GraphQL.

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/gatehouse-id/gatehouse/ent/schema/factor"
	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
)

// signingAlgorithms are the JWS algorithms Gatehouse signs with.
var signingAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// SigningKey is one of the provider's token-signing keys. The private key is
// sealed with the master key. A key signs from activates_at until a newer
// key of its algorithm takes over (retired_at); it stays in JWKS until
// every token it signed has expired (expires_at).
type SigningKey struct{ ent.Schema }

// Mixin implements ent.Schema.
func (SigningKey) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("sk")} }

// Fields implements ent.Schema.
func (SigningKey) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("algorithm").Values(signingAlgorithms...).Immutable(),
		field.Bytes("sealed_private_key").Sensitive().Immutable(),
		field.JSON("public_jwk", map[string]any{}).Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("activates_at").Immutable(),
		field.Time("retired_at").Optional().Nillable(),
		field.Time("expires_at").Optional().Nillable(),
	}
}

// Indexes implements ent.Schema.
func (SigningKey) Indexes() []ent.Index {
	return []ent.Index{index.Fields("algorithm", "activates_at")}
}

// Annotations implements ent.Schema.
func (SigningKey) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (SigningKey) Policy() ent.Policy { return authz.Policy() }

// AuthRequest is one authorization request (RFC 6749 §4.1.1) from its
// arrival at /oauth/v2/authorize until its code is redeemed or it expires.
// The code is stored only as its SHA-256; code_used_at makes redemption
// single-use with one conditional UPDATE.
type AuthRequest struct{ ent.Schema }

// Mixin implements ent.Schema.
func (AuthRequest) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("areq")} }

// Fields implements ent.Schema.
func (AuthRequest) Fields() []ent.Field {
	return []ent.Field{
		field.String("client_id").NotEmpty().Immutable(),
		field.String("redirect_uri").NotEmpty().Immutable(),
		field.Strings("scopes").Immutable(),
		field.String("response_type").NotEmpty().Immutable(),
		field.String("response_mode").Optional().Immutable(),
		field.String("state").Optional().Immutable(),
		field.String("nonce").Optional().Immutable(),
		field.String("code_challenge").Optional().Immutable(),
		field.String("code_challenge_method").Optional().Immutable(),
		field.Strings("prompt").Optional().Immutable(),
		field.Int("max_age_seconds").Optional().Nillable().Immutable(),
		field.String("login_hint").Optional().Immutable(),
		field.Strings("acr_values").Optional().Immutable(),
		field.Strings("ui_locales").Optional().Immutable(),
		field.String("requested_organization_id").GoType(pulid.ID("")).Optional().Immutable().
			Comment("organization named by an organization:<id> scope"),
		// Set when the hosted login completes the request.
		field.String("user_id").GoType(pulid.ID("")).Optional(),
		field.String("organization_id").GoType(pulid.ID("")).Optional(),
		field.String("session_id").GoType(pulid.ID("")).Optional(),
		field.Time("auth_time").Optional().Nillable(),
		field.Strings("amr").Optional(),
		field.String("acr").Optional(),
		field.Bool("done").Default(false),
		field.String("code_hash").Optional().Nillable().Unique(),
		field.Time("code_used_at").Optional().Nillable(),
		field.Time("policy_expires_at").Optional().Nillable().
			Comment("when the organization policy ends sign-ins of this authentication (auth_time + sessionAbsoluteLifetimeSeconds); its grant ends no later"),
		field.Int("policy_idle_lifetime_seconds").Optional().Nillable().
			Comment("the organization policy's idle lifetime for this authentication's grant, when the policy sets one"),
		field.Time("code_replayed_at").Optional().Nillable().
			Comment("set by a redemption of a used code, so that a grant the first redemption creates afterwards is revoked too"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at"),
	}
}

// Indexes implements ent.Schema.
func (AuthRequest) Indexes() []ent.Index { return []ent.Index{index.Fields("expires_at")} }

// Annotations implements ent.Schema.
func (AuthRequest) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (AuthRequest) Policy() ent.Policy { return authz.Policy() }

// Grant is what one authorization (a code redemption) gave a client: its
// refresh tokens form one family, and the access tokens issued under it
// carry its id. Revoking the grant revokes them all (OAuth 2.1 refresh
// token reuse detection, RFC 9700 §4.14, code replay §4.5).
type Grant struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Grant) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("grt")} }

// Fields implements ent.Schema.
func (Grant) Fields() []ent.Field {
	return []ent.Field{
		field.String("client_id").NotEmpty().Immutable(),
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.String("organization_id").GoType(pulid.ID("")).Optional().Immutable(),
		field.String("session_id").GoType(pulid.ID("")).Optional().Immutable(),
		field.String("auth_request_id").GoType(pulid.ID("")).Optional().Immutable(),
		field.Strings("scopes").Immutable(),
		field.Strings("audience").Optional().Immutable(),
		field.Time("auth_time").Immutable(),
		field.Strings("amr").Optional().Immutable(),
		field.String("acr").Optional().Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at").Comment("absolute end of the refresh-token family"),
		field.Int("idle_lifetime_seconds").Optional().Nillable().Immutable().
			Comment("how long a refresh token of the family may lie unused, when the organization's policy is stricter than the application's"),
		field.Time("revoked_at").Optional().Nillable(),
		field.String("revoke_reason").Optional(),
	}
}

// Edges implements ent.Schema.
func (Grant) Edges() []ent.Edge {
	return []ent.Edge{edge.To("refresh_tokens", RefreshToken.Type).Annotations(entsql.OnDelete(entsql.Cascade))}
}

// Indexes implements ent.Schema.
func (Grant) Indexes() []ent.Index {
	// expires_at: the sweeper's range scan (Provider.Sweep).
	return []ent.Index{index.Fields("user_id"), index.Fields("auth_request_id"), index.Fields("session_id"), index.Fields("expires_at")}
}

// Annotations implements ent.Schema.
func (Grant) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (Grant) Policy() ent.Policy { return authz.Policy() }

// RefreshToken is one opaque refresh token, stored as its SHA-256. Using it
// issues its successor, whose parent_id names it: the unique parent_id
// makes rotation one INSERT that only one request can win, and a token
// with a successor is spent. Using a spent token revokes its grant.
type RefreshToken struct{ ent.Schema }

// Mixin implements ent.Schema.
func (RefreshToken) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("rt")} }

// Fields implements ent.Schema.
func (RefreshToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("grant_id").GoType(pulid.ID("")).Immutable(),
		field.String("token_hash").Unique().NotEmpty().Immutable().Sensitive(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("idle_expires_at").Immutable(),
		field.String("parent_id").GoType(pulid.ID("")).Optional().Unique().Immutable().
			Comment("the token this one replaced; set once, so a token is rotated at most once"),
	}
}

// Edges implements ent.Schema.
func (RefreshToken) Edges() []ent.Edge {
	return []ent.Edge{edge.From("grant", Grant.Type).Ref("refresh_tokens").Field("grant_id").Unique().Required().Immutable()}
}

// Indexes implements ent.Schema: grant_id for a grant's tokens and for
// ON DELETE CASCADE when the grant is deleted.
func (RefreshToken) Indexes() []ent.Index { return []ent.Index{index.Fields("grant_id")} }

// Annotations implements ent.Schema.
func (RefreshToken) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (RefreshToken) Policy() ent.Policy { return authz.Policy() }

// RevokedToken lists revoked JWT access tokens by jti until they expire, so
// issuing an access token needs no write and revoking one needs one.
type RevokedToken struct{ ent.Schema }

// Mixin implements ent.Schema.
func (RevokedToken) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("rvk")} }

// Fields implements ent.Schema.
func (RevokedToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("jti").Unique().NotEmpty().Immutable(),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes implements ent.Schema: expires_at for the sweeper.
func (RevokedToken) Indexes() []ent.Index { return []ent.Index{index.Fields("expires_at")} }

// Annotations implements ent.Schema.
func (RevokedToken) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (RevokedToken) Policy() ent.Policy { return authz.Policy() }

// Session is a signed-in browser on the hosted pages. The cookie carries a
// random secret; only its SHA-256 is stored.
type Session struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Session) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("ses")} }

// Fields implements ent.Schema.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.String("token_hash").Unique().NotEmpty().Immutable().Sensitive(),
		field.Time("auth_time"),
		field.Strings("amr").Optional(),
		field.String("acr").Optional(),
		field.String("ip").Optional().Immutable(),
		field.String("user_agent").Optional().Immutable(),
		field.String("device_id").Optional().Immutable().
			Comment("the browser's device cookie id (web/device.go), to tell a new device from a known one"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("last_seen_at").Default(time.Now),
		field.Time("expires_at"),
		field.Int("idle_timeout_seconds").Positive().Default(24 * 3600).
			Comment("the session ends when unused this long; lowered by the policy of each organization it signs into"),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Indexes implements ent.Schema.
func (Session) Indexes() []ent.Index { return []ent.Index{index.Fields("user_id")} }

// Annotations implements ent.Schema.
func (Session) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (Session) Policy() ent.Policy { return authz.Policy() }

// Consent records the scopes a user granted a third-party application, so
// the consent screen is shown once per new scope.
type Consent struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Consent) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("cns")} }

// Fields implements ent.Schema.
func (Consent) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.String("client_id").NotEmpty().Immutable(),
		field.Strings("scopes"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Indexes implements ent.Schema.
func (Consent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "client_id").Unique()}
}

// Annotations implements ent.Schema.
func (Consent) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (Consent) Policy() ent.Policy { return authz.Policy() }

// LoginTransaction is one sign-in in progress, from the browser's arrival
// at /login until a session exists: who is being signed in (once known),
// the organization in question and the factors proven so far. The browser
// holds a random secret in a cookie; the row stores the SHA-256 of that
// secret bound to the authorization request, so the cookie carries one
// browser's transactions for any number of requests and nothing else can
// name one.
type LoginTransaction struct{ ent.Schema }

// Mixin implements ent.Schema.
func (LoginTransaction) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("ltx")} }

// Fields implements ent.Schema.
func (LoginTransaction) Fields() []ent.Field {
	return []ent.Field{
		field.String("token_hash").Unique().NotEmpty().Immutable().Sensitive(),
		field.String("auth_request_id").GoType(pulid.ID("")).Optional().Immutable(),
		field.String("user_id").GoType(pulid.ID("")).Optional(),
		field.String("organization_id").GoType(pulid.ID("")).Optional(),
		field.JSON("factors", []factor.Proven{}).Optional(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at"),
	}
}

// Indexes implements ent.Schema: expires_at for the sweeper.
func (LoginTransaction) Indexes() []ent.Index { return []ent.Index{index.Fields("expires_at")} }

// Annotations implements ent.Schema.
func (LoginTransaction) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (LoginTransaction) Policy() ent.Policy { return authz.Policy() }

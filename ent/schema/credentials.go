package schema

// Entities of the hosted pages' sign-in methods: the second factors and
// passkeys a user holds, the one-time secrets sent by email, the WebAuthn
// ceremonies in progress, and the daily funnel counts. All are
// instance-level: the authorizer shows them to no organization viewer;
// tenants reads and writes them as the System viewer. None is generated
// into GraphQL (graph exposes what it needs by hand).

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/gatehouse-id/gatehouse/ent/schema/pulid"
	"github.com/gatehouse-id/gatehouse/tenants/authz"
)

// Passkey is a WebAuthn credential a user registered (W3C WebAuthn L3
// §4 "Credential Record"): usable as a first factor (a discoverable
// credential, user verification required) or as a second one.
type Passkey struct{ ent.Schema }

// Mixin implements ent.Schema.
func (Passkey) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("pk")} }

// Fields implements ent.Schema.
func (Passkey) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().NotEmpty(),
		field.String("name").MaxLen(100).Default("Passkey"),
		field.Bytes("credential_id").Unique().NotEmpty().MaxLen(1023).Immutable().
			Comment("WebAuthn credential id; unique across the instance (WebAuthn §7.1 step 25)"),
		field.Bytes("public_key").NotEmpty().Immutable().Comment("COSE_Key"),
		field.String("attestation_type").Optional().Immutable(),
		field.Bytes("aaguid").Optional().Immutable(),
		field.Int64("sign_count").Default(0),
		field.Bool("clone_warning").Default(false).
			Comment("a sign counter went backwards: the passkey is refused until removed and registered again"),
		field.Bool("user_verified").Default(false),
		field.Bool("backup_eligible").Default(false).Immutable(),
		field.Bool("backup_state").Default(false),
		field.Strings("transports").Optional(),
		field.String("rp_id").NotEmpty().Immutable().Comment("the relying party id it was registered for"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("last_used_at").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (Passkey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("passkeys").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (Passkey) Indexes() []ent.Index { return []ent.Index{index.Fields("user_id")} }

// Annotations implements ent.Schema.
func (Passkey) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (Passkey) Policy() ent.Policy { return authz.Policy() }

// TOTPCredential is an authenticator app enrolled for RFC 6238 one-time
// passwords. The shared secret is sealed with the master key. An
// enrollment counts only once confirmed with a first code; last_used_step
// makes every time step usable once (NIST SP 800-63B: a TOTP "SHALL be
// accepted only once").
type TOTPCredential struct{ ent.Schema }

// Mixin implements ent.Schema.
func (TOTPCredential) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("totp")} }

// Fields implements ent.Schema.
func (TOTPCredential) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().NotEmpty(),
		field.String("name").MaxLen(100).Default("Authenticator app"),
		field.Bytes("secret_sealed").NotEmpty().Sensitive().Comment("the shared secret, sealed (internal/seal)"),
		field.Int64("last_used_step").Default(0).Comment("the last RFC 6238 time step accepted; only later ones are"),
		field.Time("confirmed_at").Optional().Nillable(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("last_used_at").Optional().Nillable(),
	}
}

// Edges implements ent.Schema.
func (TOTPCredential) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("totp_credentials").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (TOTPCredential) Indexes() []ent.Index { return []ent.Index{index.Fields("user_id")} }

// Annotations implements ent.Schema.
func (TOTPCredential) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (TOTPCredential) Policy() ent.Policy { return authz.Policy() }

// RecoveryCode is one of a user's single-use recovery codes (NIST SP
// 800-63B look-up secrets): stored as a hash, shown once, spent by a
// conditional update.
type RecoveryCode struct{ ent.Schema }

// Mixin implements ent.Schema.
func (RecoveryCode) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("rcv")} }

// Fields implements ent.Schema.
func (RecoveryCode) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().NotEmpty(),
		field.String("code_hash").NotEmpty().Immutable().Sensitive(),
		field.Time("used_at").Optional().Nillable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges implements ent.Schema.
func (RecoveryCode) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("recovery_codes").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes implements ent.Schema.
func (RecoveryCode) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "code_hash").Unique()}
}

// Annotations implements ent.Schema.
func (RecoveryCode) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (RecoveryCode) Policy() ent.Policy { return authz.Policy() }

// EmailChallenge is a one-time secret sent by email: a 6-digit code and a
// link, for one purpose, both single-use and short-lived, stored as
// hashes. The code is bound to the browser that asked (browser_hash, the
// hash of a cookie value), the link to nothing but itself; attempts bounds
// the guesses at the code whatever the throttle says.
type EmailChallenge struct{ ent.Schema }

// Mixin implements ent.Schema.
func (EmailChallenge) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("ech")} }

// Fields implements ent.Schema.
func (EmailChallenge) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("purpose").Values("SIGNUP", "LOGIN", "RECOVERY", "EMAIL_CHANGE").Immutable(),
		field.String("email").NotEmpty().MaxLen(320).Immutable().Comment("where it was sent, normalized"),
		field.String("user_id").GoType(pulid.ID("")).Optional().Immutable().
			Comment("the account it proves control of; empty for a signup"),
		field.String("code_hash").NotEmpty().Immutable().Sensitive(),
		field.String("link_hash").Unique().NotEmpty().Immutable().Sensitive(),
		field.String("browser_hash").Optional().Immutable().Sensitive(),
		field.String("auth_request_id").GoType(pulid.ID("")).Optional().Immutable(),
		field.Int("attempts").Default(0),
		field.JSON("data", map[string]string{}).Optional().Sensitive().
			Comment("what the purpose carries to its end: a signup's password hash, an email change's new address"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at").Immutable(),
		field.Time("used_at").Optional().Nillable(),
	}
}

// Indexes implements ent.Schema.
func (EmailChallenge) Indexes() []ent.Index {
	return []ent.Index{index.Fields("email", "purpose"), index.Fields("user_id"), index.Fields("expires_at")}
}

// Annotations implements ent.Schema.
func (EmailChallenge) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (EmailChallenge) Policy() ent.Policy { return authz.Policy() }

// WebAuthnCeremony is a WebAuthn registration or authentication in
// progress: go-webauthn's SessionData (the challenge, the user, the
// allowed credentials), which the library leaves to the caller to keep,
// bound to the browser that began it (token_hash, the hash of a cookie
// value) and deleted at its first answer, right or wrong
// (SECURITY-CHECKLIST PK-02).
type WebAuthnCeremony struct{ ent.Schema }

// Mixin implements ent.Schema.
func (WebAuthnCeremony) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("wac")} }

// Fields implements ent.Schema.
func (WebAuthnCeremony) Fields() []ent.Field {
	return []ent.Field{
		field.String("token_hash").Unique().NotEmpty().Immutable().Sensitive(),
		field.Enum("purpose").Values("REGISTER", "LOGIN", "SECOND_FACTOR").Immutable(),
		field.String("user_id").GoType(pulid.ID("")).Optional().Immutable(),
		field.Bytes("session_data").NotEmpty().Immutable().Comment("go-webauthn SessionData, JSON"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("expires_at").Immutable(),
	}
}

// Indexes implements ent.Schema.
func (WebAuthnCeremony) Indexes() []ent.Index { return []ent.Index{index.Fields("expires_at")} }

// Annotations implements ent.Schema.
func (WebAuthnCeremony) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (WebAuthnCeremony) Policy() ent.Policy { return authz.Policy() }

// FunnelCount is how many times a sign-up or sign-in funnel event
// happened on one UTC day, per organization and application ("" when the
// event had none), so product teams can watch conversion without a row per
// event. It is incremented with one upsert.
type FunnelCount struct{ ent.Schema }

// Mixin implements ent.Schema.
func (FunnelCount) Mixin() []ent.Mixin { return []ent.Mixin{pulid.MixinWithPrefix("fnl")} }

// Fields implements ent.Schema.
func (FunnelCount) Fields() []ent.Field {
	return []ent.Field{
		field.String("day").NotEmpty().MaxLen(10).Immutable().Comment("YYYY-MM-DD, UTC"),
		field.String("organization_id").Default("").Immutable(),
		field.String("application_id").Default("").Immutable(),
		field.String("event").NotEmpty().MaxLen(64).Immutable(),
		field.Int64("count").Default(0),
	}
}

// Indexes implements ent.Schema.
func (FunnelCount) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "day", "application_id", "event").Unique()}
}

// Annotations implements ent.Schema.
func (FunnelCount) Annotations() []schema.Annotation { return []schema.Annotation{entgql.Skip()} }

// Policy implements ent.Schema.
func (FunnelCount) Policy() ent.Policy { return authz.Policy() }

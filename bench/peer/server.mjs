// npm's oidc-provider (OpenID Certified), configured like Gatehouse for the
// side-by-side benchmarks in docs/BENCHMARKS.md (run by bench/oidc.sh).
//
//   PEER_CONFIG='{"port":9100,"alg":"ES256","clients":[...]}' node server.mjs
//
// Config (JSON in PEER_CONFIG, or a file path as the first argument):
//   port     listen port on 127.0.0.1
//   alg      signing algorithm of access and ID tokens: RS256, ES256, EdDSA
//   clients  [{client_id, client_secret, grant_types, redirect_uris}]
//   resource the resource indicator whose access tokens are JWTs (default
//            https://api.bench.test), scope "invoices:read"
//   adapter  "memory" (default: oidc-provider's in-memory adapter) or
//            "postgres": pgadapter.mjs on PEER_DATABASE_URL, so that both
//            servers commit each rotation to PostgreSQL before answering
//   mint     when true, POST /bench/mint?n=N&client_id=… issues N refresh
//            tokens (each its own grant, scope "openid offline_access") for
//            account "ada", the pool the refresh benchmark chains. This is
//            the benchmark's shortcut past the interactive login; it is off
//            unless asked for.
//
// Equivalence with Gatehouse: client_secret_basic, JWT access tokens
// (RFC 9068 at+jwt, via resource indicators with accessTokenFormat 'jwt')
// signed with `alg`, ID tokens signed with `alg`, client_credentials
// enabled, refresh tokens rotated on every use (rotateRefreshToken: true),
// PKCE S256 only. Storage is oidc-provider's default in-memory adapter (its
// fastest; Gatehouse writes to SQLite/PostgreSQL), or PostgreSQL.
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';
import { PgAdapter, migrate } from './pgadapter.mjs';

const cfg = JSON.parse(process.argv[2] ? readFileSync(process.argv[2], 'utf8') : (process.env.PEER_CONFIG || '{}'));
const port = cfg.port || 9100;
const alg = cfg.alg || 'ES256';
const resource = cfg.resource || 'https://api.bench.test';
const issuer = `http://127.0.0.1:${port}`;

function jwk(kind, opts, keyAlg) {
  const { privateKey } = generateKeyPairSync(kind, opts);
  return { ...privateKey.export({ format: 'jwk' }), alg: keyAlg, use: 'sig', kid: keyAlg.toLowerCase() };
}
// The signing key of `alg` first: it is the default.
const keys = {
  RS256: () => jwk('rsa', { modulusLength: 2048 }, 'RS256'),
  ES256: () => jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
  EdDSA: () => jwk('ed25519', {}, 'EdDSA'),
};
const jwks = { keys: [keys[alg](), ...Object.keys(keys).filter((a) => a !== alg).map((a) => keys[a]())] };

const clients = (cfg.clients || []).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  grant_types: c.grant_types,
  redirect_uris: c.redirect_uris || [],
  response_types: c.grant_types.includes('authorization_code') ? ['code'] : [],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: alg,
  scope: c.scope || 'openid offline_access invoices:read',
}));

if (cfg.adapter === 'postgres') await migrate();

const provider = new Provider(issuer, {
  ...(cfg.adapter === 'postgres' ? { adapter: PgAdapter } : {}),
  clients,
  jwks,
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'invoices:read'],
  rotateRefreshToken: true,
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'] },
  ttl: { AccessToken: 3600, ClientCredentials: 3600, RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== resource) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'invoices:read',
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        };
      },
    },
  },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
});
provider.proxy = false;

if (cfg.mint) {
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/bench/mint') return next();
    const n = Math.min(Number(ctx.query.n) || 1, 10000);
    const client = await provider.Client.find(String(ctx.query.client_id));
    if (!client) ctx.throw(400, 'unknown client');
    const tokens = [];
    for (let i = 0; i < n; i += 1) {
      const grant = new provider.Grant({ accountId: 'ada', clientId: client.clientId });
      grant.addOIDCScope('openid offline_access');
      grant.addResourceScope(resource, 'invoices:read');
      const grantId = await grant.save();
      const rt = new provider.RefreshToken({
        accountId: 'ada',
        authTime: Math.floor(Date.now() / 1000),
        client,
        grantId,
        gty: 'authorization_code',
        rotations: 0,
        scope: 'openid offline_access invoices:read',
        resource,
      });
      tokens.push(await rt.save());
    }
    ctx.type = 'text/plain';
    ctx.body = `${tokens.join('\n')}\n`;
  });
}

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer} (alg ${alg}, ${clients.length} clients, ${cfg.adapter || 'memory'} adapter)`);
});

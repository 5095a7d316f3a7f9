// A customer's identity provider for federation/oidc's interop test
// (../../federation/oidc/nodepeer_test.go): npm's oidc-provider (OpenID
// Certified) on 127.0.0.1 over plain HTTP, one confidential client, one
// fixed user, and a login form instead of oidc-provider's devInteractions.
//
//   node oidc-idp.mjs [port]      (or OIDC_IDP_PORT; 0 or unset: any free port)
//
// OIDC_IDP_CLIENT_ID, OIDC_IDP_CLIENT_SECRET and OIDC_IDP_REDIRECT_URI name
// the client; OIDC_IDP_LOGIN and OIDC_IDP_PASSWORD the users' credentials.
// It prints "listening <issuer>" once it serves, and stops on SIGTERM.
import { createServer } from 'node:http'
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import Provider from 'oidc-provider'

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}
const port = Number(process.argv[2] ?? process.env.OIDC_IDP_PORT ?? 0)
// OIDC_IDP_LOGIN may list several logins, comma-separated, that share the
// password: the first is user-7f3a91, the others user-<sha256 prefix>.
const users = env('OIDC_IDP_LOGIN').split(',').map((login, i) => ({
  login,
  password: env('OIDC_IDP_PASSWORD'),
  sub: i === 0 ? 'user-7f3a91' : `user-${createHash('sha256').update(login).digest('hex').slice(0, 6)}`,
  claims: {
    email: login,
    email_verified: true,
    name: 'Grace Hopper',
    given_name: 'Grace',
    family_name: 'Hopper',
    groups: ['engineering', 'navy'],
  },
}))

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const readForm = async (req) => {
  let body = ''
  for await (const chunk of req) {
    body += chunk
    if (body.length > 8192) throw new Error('form too large')
  }
  return new URLSearchParams(body)
}

const server = createServer()
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const provider = new Provider(issuer, {
    clients: [{
      client_id: env('OIDC_IDP_CLIENT_ID'),
      client_secret: env('OIDC_IDP_CLIENT_SECRET'),
      redirect_uris: [env('OIDC_IDP_REDIRECT_URI')],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      require_auth_time: true,
    }],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'idp-1', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'email', 'profile', 'groups'],
    // amr rides on the openid scope: oidc-provider puts a claim in the ID
    // token only when a scope (or the claims parameter) asks for it.
    claims: {
      acr: null, auth_time: null, sid: null, iss: null,
      openid: ['sub', 'amr'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
      groups: ['groups'],
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const user = users.find((u) => u.sub === sub)
      if (!user) return undefined
      return { accountId: sub, claims: async () => ({ sub, ...user.claims }) }
    },
    // The IdP's own first-party client: no consent screen, every scope
    // asked for is granted.
    async loadExistingGrant(ctx) {
      const id = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId)
      if (id) return ctx.oidc.provider.Grant.find(id)
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId })
      grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid')
      await grant.save()
      return grant
    },
  })
  const oidc = provider.callback()

  server.on('request', async (req, res) => {
    const m = /^\/interaction\/([\w-]+)(\/login)?$/.exec(new URL(req.url, issuer).pathname)
    if (!m) return oidc(req, res)
    try {
      const details = await provider.interactionDetails(req, res)
      if (details.uid !== m[1]) throw new Error('interaction mismatch')
      let error = ''
      if (req.method === 'POST' && m[2]) {
        const form = await readForm(req)
        const user = users.find((u) => u.login === form.get('login'))
        if (user && form.get('password') === user.password) {
          return await provider.interactionFinished(req, res,
            { login: { accountId: user.sub, amr: ['pwd'] } }, { mergeWithLastSubmission: false })
        }
        error = '<p role="alert">Wrong login or password.</p>'
      }
      res.setHeader('Content-Type', 'text/html; charset=utf-8')
      res.end(`<!doctype html><title>Sign in</title>${error}
<form method="post" action="/interaction/${escape(details.uid)}/login">
<input name="login" value="${escape(details.params.login_hint ?? '')}"><input type="password" name="password">
<button type="submit">Sign in</button></form>`)
    } catch (err) {
      res.statusCode = 400
      res.end(`interaction failed: ${err.message}`)
    }
  })
  console.log(`listening ${issuer}`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))

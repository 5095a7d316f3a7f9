// openid-client (OpenID Certified) against a running `gatehouse serve`.
// ../node_test.go starts the server, seeds it and sets the variables below;
// the tests run in order and share the tokens they obtain.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as client from 'openid-client'

const env = (name) => {
  const v = process.env[`GATEHOUSE_INTEROP_${name}`]
  if (!v) throw new Error(`GATEHOUSE_INTEROP_${name} is not set (run through go test ./interop)`)
  return v
}
const issuer = new URL(env('ISSUER'))
const redirectUri = env('REDIRECT_URI')
const postLogoutUri = env('POST_LOGOUT_REDIRECT_URI')
const userId = env('USER_ID')
const orgId = env('ORG_ID')

// The issuer is http://127.0.0.1 in tests.
const insecure = { execute: [client.allowInsecureRequests] }

// browser signs in on the hosted pages with fetch and a cookie jar: it
// follows redirects on the server, fills the login form, picks the
// organization, allows consent, and returns the first redirect target off
// the server.
function browser() {
  const jar = new Map()
  const hops = []
  const unescape = (s) => s.replace(/&(amp|lt|gt|quot|#39|#34|#x27);/g, (_, e) =>
    ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#34': '"', '#x27': "'" })[e])
  const attrs = (s) => {
    const m = {}
    for (const a of s.matchAll(/([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))/g)) {
      m[a[1].toLowerCase()] = unescape(a[2] ?? a[3] ?? a[4] ?? '')
    }
    return m
  }
  async function drive(start) {
    let method = 'GET'
    let url = new URL(start)
    let body
    for (let i = 0; i < 20; i++) {
      const headers = { accept: 'text/html' }
      if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded'
      const res = await fetch(url, { method, headers, body, redirect: 'manual' })
      for (const c of res.headers.getSetCookie()) {
        const [nv] = c.split(';')
        const eq = nv.indexOf('=')
        const name = nv.slice(0, eq).trim()
        const value = nv.slice(eq + 1).trim()
        if (value === '' || /max-age=(0|-)/i.test(c)) jar.delete(name)
        else jar.set(name, value)
      }
      hops.push(`${method} ${url} → ${res.status} ${res.headers.get('location') ?? ''}`)
      if (res.status >= 300 && res.status < 400) {
        const loc = new URL(res.headers.get('location'), url)
        if (loc.origin !== issuer.origin) return loc
        method = 'GET'
        url = loc
        body = undefined
        continue
      }
      const html = await res.text()
      const form = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/i)
      if (res.status !== 200 || !form) {
        throw new Error(`sign-in stopped on a ${res.status} page after\n  ${hops.join('\n  ')}\n${html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').slice(0, 400)}`)
      }
      const values = new URLSearchParams()
      for (const m of form[2].matchAll(/<input\b([^>]*)>/gi)) {
        const a = attrs(m[1])
        if (a.name) values.set(a.name, a.value ?? '')
      }
      const buttons = [...form[2].matchAll(/<button\b([^>]*)>/gi)].map((m) => attrs(m[1])).filter((a) => a.name)
      if (values.has('password')) {
        values.set('email', env('EMAIL'))
        values.set('password', env('PASSWORD'))
      } else if (values.has('email') && /\/login\/identify$/.test(attrs(form[1]).action ?? '')) {
        // identifier first: the email, then the page with the password
        values.set('email', env('EMAIL'))
      } else if (buttons.some((b) => b.name === 'organization')) {
        const orgs = buttons.filter((b) => b.name === 'organization').map((b) => b.value)
        values.set('organization', orgs.includes(orgId) ? orgId : orgs[0])
      } else if (buttons.some((b) => b.name === 'action' && b.value === 'allow')) {
        values.set('action', 'allow')
      } else {
        throw new Error(`sign-in stopped on an unknown form after\n  ${hops.join('\n  ')}`)
      }
      method = 'POST'
      url = new URL(attrs(form[1]).action ?? '', url)
      body = values.toString()
    }
    throw new Error(`more than 20 hops:\n  ${hops.join('\n  ')}`)
  }
  return { drive, hops }
}

// signIn runs buildAuthorizationUrl → hosted login → authorizationCodeGrant
// (which checks iss, state, PKCE and the ID token with its nonce).
async function signIn(config, scope, b = browser()) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  const callback = await b.drive(url)
  assert.ok(callback.href.startsWith(redirectUri + '?'), `ended at ${callback}, want the redirect_uri; hops:\n  ${b.hops.join('\n  ')}`)
  assert.equal(callback.searchParams.get('iss'), config.serverMetadata().issuer, 'iss in the authorization response (RFC 9207)')
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  })
  return { tokens, browser: b }
}

const isError = (code) => (err) => {
  assert.equal(err.error ?? err.cause?.error, code, `${err}`)
  return true
}

let web, spa, svc
let first // the web client's first sign-in

test('discovery', async () => {
  web = await client.discovery(issuer, env('WEB_CLIENT_ID'), undefined, client.ClientSecretBasic(env('WEB_CLIENT_SECRET')), insecure)
  const m = web.serverMetadata()
  assert.equal(m.issuer, issuer.href.replace(/\/$/, ''))
  assert.ok(m.supportsPKCE('S256'), 'S256 in code_challenge_methods_supported')
  assert.ok(!m.supportsPKCE('plain'), 'plain must not be advertised')
  assert.equal(m.authorization_response_iss_parameter_supported, true)
  for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'end_session_endpoint']) {
    assert.ok(m[k], `${k} in discovery`)
  }
  spa = await client.discovery(issuer, env('SPA_CLIENT_ID'), undefined, client.None(), insecure)
  svc = await client.discovery(issuer, env('SVC_CLIENT_ID'), undefined, client.ClientSecretBasic(env('SVC_CLIENT_SECRET')), insecure)
})

test('client credentials grant (ES256 JWT access token)', async () => {
  const tokens = await client.clientCredentialsGrant(svc, { scope: 'invoices:read' })
  assert.equal(tokens.token_type.toLowerCase(), 'bearer')
  const header = JSON.parse(Buffer.from(tokens.access_token.split('.')[0], 'base64url'))
  assert.equal(header.alg, 'ES256')
  const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url'))
  assert.equal(claims.client_id, env('SVC_CLIENT_ID'))
  assert.ok(claims.scope.split(' ').includes('invoices:read'))
  assert.ok(claims.jti)
  const intro = await client.tokenIntrospection(svc, tokens.access_token)
  assert.equal(intro.active, true)
})

test('authorization code + PKCE (confidential client)', async () => {
  first = await signIn(web, 'openid email profile offline_access')
  const claims = first.tokens.claims()
  assert.equal(claims.sub, userId)
  assert.equal(claims.aud === env('WEB_CLIENT_ID') || claims.aud.includes(env('WEB_CLIENT_ID')), true)
  assert.ok(first.tokens.refresh_token, 'refresh_token')
})

test('fetchUserInfo', async () => {
  const info = await client.fetchUserInfo(web, first.tokens.access_token, userId)
  assert.equal(info.email, env('EMAIL'))
  assert.equal(info.email_verified, true)
  assert.equal(info.name, 'Ada Lovelace')
})

test('refreshTokenGrant rotates, and reuse revokes the family', async () => {
  const old = first.tokens.refresh_token
  const next = await client.refreshTokenGrant(web, old)
  assert.ok(next.refresh_token && next.refresh_token !== old, 'a new refresh token')
  assert.ok(next.access_token)
  await assert.rejects(client.refreshTokenGrant(web, old), isError('invalid_grant'))
  await assert.rejects(client.refreshTokenGrant(web, next.refresh_token), isError('invalid_grant'))
})

test('tokenIntrospection and tokenRevocation', async () => {
  const { tokens } = await signIn(web, 'openid email', first.browser)
  const before = await client.tokenIntrospection(web, tokens.access_token)
  assert.equal(before.active, true)
  assert.equal(before.sub, userId)
  await client.tokenRevocation(web, tokens.access_token, { token_type_hint: 'access_token' })
  const after = await client.tokenIntrospection(web, tokens.access_token)
  assert.equal(after.active, false)
  await assert.rejects(client.fetchUserInfo(web, tokens.access_token, userId))
})

test('public client (SPA) with PKCE, no secret', async () => {
  const { tokens } = await signIn(spa, 'openid')
  assert.equal(tokens.claims().sub, userId)
})

test('organization scope puts org claims in the ID token', async () => {
  const { tokens } = await signIn(web, `openid organization:${orgId}`, first.browser)
  const claims = tokens.claims()
  assert.equal(claims.org_id, orgId)
  assert.equal(claims.org_slug, 'acme')
  assert.deepEqual(claims.org_roles, ['owner'])
})

test('buildEndSessionUrl: RP-initiated logout', async () => {
  const { tokens, browser: b } = await signIn(web, 'openid')
  const url = client.buildEndSessionUrl(web, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: postLogoutUri,
    state: 'bye',
  })
  const landed = await b.drive(url)
  assert.ok(landed.href.startsWith(postLogoutUri), `logout ended at ${landed}`)
  assert.equal(landed.searchParams.get('state'), 'bye')
})

// A customer's SAML identity provider for ../sso_test.go: npm's samlify
// as the IdP on 127.0.0.1 over plain HTTP. It publishes its metadata, takes
// signed AuthnRequests (HTTP-Redirect binding, signature required and
// checked against the SP's metadata), shows a login form, and answers with
// a signed assertion posted to the SP's ACS (HTTP-POST binding).
//
//   node saml-idp.mjs [port]      (or SAML_IDP_PORT; 0 or unset: any free port)
//
// SAML_IDP_KEY_FILE is a PEM file with the IdP's RSA private key and its
// certificate. SAML_IDP_LOGIN lists the users' emails (comma-separated),
// who share SAML_IDP_PASSWORD. SAML_IDP_SP_PREFIX is where trusted SPs
// live: an AuthnRequest whose Issuer (an SP entity id, which for Gatehouse
// is its metadata URL) starts with it has that SP's metadata fetched from
// the entity id, once; any other SP is refused.
// SAML_IDP_HOSTNAME names the host in its URLs (default 127.0.0.1; it
// listens on 127.0.0.1 either way).
// It prints "listening <base URL>" once it serves, and stops on SIGTERM.
import { createServer } from 'node:http'
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { inflateRawSync } from 'node:zlib'
import samlify from 'samlify'
import * as xsd from '@authenio/samlify-xmllint-wasm'

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}
const port = Number(process.argv[2] ?? process.env.SAML_IDP_PORT ?? 0)
const pem = readFileSync(env('SAML_IDP_KEY_FILE'), 'utf8')
const privateKey = /-----BEGIN RSA PRIVATE KEY-----[\s\S]+?-----END RSA PRIVATE KEY-----/.exec(pem)?.[0]
const certificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0]
if (!privateKey || !certificate) throw new Error('SAML_IDP_KEY_FILE needs an RSA PRIVATE KEY and a CERTIFICATE')
const password = env('SAML_IDP_PASSWORD')
const logins = env('SAML_IDP_LOGIN').split(',')
const spPrefix = env('SAML_IDP_SP_PREFIX')

// Every message the IdP reads is checked against the SAML XML schemas.
samlify.setSchemaValidator(xsd)

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
const readForm = async (req) => {
  let body = ''
  for await (const chunk of req) {
    body += chunk
    if (body.length > 8192) throw new Error('form too large')
  }
  return new URLSearchParams(body)
}
const page = (res, status, body) => {
  res.statusCode = status
  res.setHeader('Content-Type', 'text/html; charset=utf-8')
  res.end(`<!doctype html><meta charset="utf-8"><title>samlify IdP</title>${body}`)
}

// How the user signed in: a password over TLS, as most IdPs say.
const authnStatement = '<saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{ID}"><saml:AuthnContext>' +
  '<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>' +
  '</saml:AuthnContext></saml:AuthnStatement>'

// The attributes sent, under the names Okta's setup guides use (the
// Gatehouse "okta" preset): email, firstName, lastName, groups.
const attributes = [
  { name: 'email', valueTag: 'email' },
  { name: 'firstName', valueTag: 'firstName' },
  { name: 'lastName', valueTag: 'lastName' },
  { name: 'groups', valueTag: 'groups' },
].map((a) => ({ ...a, nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic', valueXsiType: 'xs:string' }))

const server = createServer()
server.listen(port, '127.0.0.1', () => {
  const base = `http://${process.env.SAML_IDP_HOSTNAME || '127.0.0.1'}:${server.address().port}`
  const idp = samlify.IdentityProvider({
    entityID: `${base}/metadata`,
    privateKey,
    signingCert: certificate,
    wantAuthnRequestsSigned: true,
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/sso` }],
    loginResponseTemplate: { context: samlify.SamlLib.defaultLoginResponseTemplate.context, attributes },
  })

  // SPs by entity id, their metadata fetched once.
  const sps = new Map()
  const spFor = async (entityID) => {
    if (!entityID.startsWith(spPrefix)) throw new Error(`unknown service provider ${entityID}`)
    if (!sps.has(entityID)) {
      const r = await fetch(entityID, { signal: AbortSignal.timeout(5000) })
      if (!r.ok) throw new Error(`SP metadata ${entityID}: ${r.status}`)
      sps.set(entityID, samlify.ServiceProvider({ metadata: await r.text() }))
    }
    return sps.get(entityID)
  }

  // Sign-ins waiting for the login form, and signed-in browsers.
  const pending = new Map()
  const sessions = new Map()

  // respond posts a signed Response to the request's ACS.
  const respond = async (res, { sp, extract, relayState }, email) => {
    const [localPart] = email.split('@')
    const user = { email }
    const { context, entityEndpoint } = await idp.createLoginResponse(sp, { extract }, 'post', user, {
      relayState,
      customTagReplacement: (template) => {
        const now = new Date()
        const later = new Date(now.getTime() + 5 * 60 * 1000).toISOString()
        const acs = sp.entityMeta.getAssertionConsumerService('post')
        const id = `_${randomBytes(16).toString('hex')}`
        return {
          id,
          // The statement is part of the template, not a value: values are escaped.
          context: samlify.SamlLib.replaceTagsByValue(template.replace('{AuthnStatement}', authnStatement), {
            ID: id,
            AssertionID: `_${randomBytes(16).toString('hex')}`,
            Destination: acs,
            Audience: sp.entityMeta.getEntityID(),
            SubjectRecipient: acs,
            Issuer: idp.entityMeta.getEntityID(),
            IssueInstant: now.toISOString(),
            StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
            ConditionsNotBefore: now.toISOString(),
            ConditionsNotOnOrAfter: later,
            SubjectConfirmationDataNotOnOrAfter: later,
            NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
            NameID: email,
            InResponseTo: extract.request.id,
            attrEmail: email,
            attrFirstName: localPart.charAt(0).toUpperCase() + localPart.slice(1),
            attrLastName: 'Samlify',
            attrGroups: 'engineering',
          }),
        }
      },
    })
    const relay = relayState ? `<input type="hidden" name="RelayState" value="${escape(relayState)}">` : ''
    page(res, 200, `<form method="post" action="${escape(entityEndpoint)}">
<input type="hidden" name="SAMLResponse" value="${escape(context)}">${relay}
<button type="submit">Continue</button></form>
<script>document.forms[0].submit()</script>`)
  }

  server.on('request', async (req, res) => {
    const url = new URL(req.url, base)
    try {
      if (url.pathname === '/metadata') {
        res.setHeader('Content-Type', 'application/samlmetadata+xml')
        return res.end(idp.getMetadata())
      }
      if (url.pathname === '/sso' && req.method === 'GET') {
        const query = Object.fromEntries(url.searchParams)
        const xml = inflateRawSync(Buffer.from(query.SAMLRequest ?? '', 'base64')).toString('utf8')
        const issuer = /<(?:\w+:)?Issuer[^>]*>([^<]+)<\/(?:\w+:)?Issuer>/.exec(xml)?.[1]?.trim() ?? ''
        const sp = await spFor(issuer)
        // The signed octets are the query's own encoding (SAML bindings §3.4.4.1).
        const raw = url.search.slice(1).split('&')
        const octetString = ['SAMLRequest', 'RelayState', 'SigAlg']
          .map((k) => raw.find((p) => p.startsWith(`${k}=`))).filter(Boolean).join('&')
        const { extract } = await idp.parseLoginRequest(sp, 'redirect', { query, octetString })
        const request = { sp, extract, relayState: query.RelayState }
        const session = sessions.get(/(?:^|;\s*)idp_session=(\w+)/.exec(req.headers.cookie ?? '')?.[1])
        if (session) return await respond(res, request, session)
        const id = randomBytes(16).toString('hex')
        pending.set(id, request)
        return page(res, 200, `<h1>Sign in to the samlify IdP</h1>
<form method="post" action="/login"><input type="hidden" name="pending" value="${id}">
<label>Email <input id="login" name="login" autocomplete="username"></label>
<label>Password <input id="password" type="password" name="password"></label>
<button type="submit">Sign in</button></form>`)
      }
      if (url.pathname === '/login' && req.method === 'POST') {
        const form = await readForm(req)
        const request = pending.get(form.get('pending'))
        if (!request) return page(res, 400, '<p role="alert">This sign-in has expired.</p>')
        if (!logins.includes(form.get('login')) || form.get('password') !== password) {
          return page(res, 401, '<p role="alert">Wrong email or password.</p>')
        }
        pending.delete(form.get('pending'))
        const sid = randomBytes(16).toString('hex')
        sessions.set(sid, form.get('login'))
        res.setHeader('Set-Cookie', `idp_session=${sid}; Path=/; HttpOnly; SameSite=Lax`)
        return await respond(res, request, form.get('login'))
      }
      page(res, 404, '<p>Not found.</p>')
    } catch (err) {
      page(res, 400, `<p role="alert">SAML request refused: ${escape(err.message)}</p>`)
    }
  })
  console.log(`listening ${base}`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))

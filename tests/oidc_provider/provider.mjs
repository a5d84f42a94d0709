// A real OpenID provider for the portal's tests, built on the oidc-provider package.
//
//   node provider.mjs [PORT]        (or OIDC_PROVIDER_PORT; 0, the default, picks a free port)
//
// It listens on 127.0.0.1 only, and once it answers it prints one line to stdout:
//
//   LISTENING http://127.0.0.1:PORT
//
// The issuer is that address. One confidential client is registered from the environment:
// OIDC_TEST_CLIENT_ID, OIDC_TEST_CLIENT_SECRET and OIDC_TEST_REDIRECT_URIS (space separated).
// Signing keys, cookie keys and all state live in memory and die with the process, which exits
// when its stdin closes, on SIGTERM or on SIGINT.
//
// Instead of the package's development login pages it serves a minimal interaction of its own
// that a test (or a person) can drive with plain HTTP:
//
//   GET  /interaction/:uid         an HTML form listing the test accounts
//   POST /interaction/:uid/login   login=<account id>: logs in and consents to what was asked
//   POST /interaction/:uid/abort   the person refuses: the client receives error=access_denied

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

// The people the provider knows. `userinfoOnly` lists claims it releases at the userinfo
// endpoint but not in the ID token, as some real providers do.
const ACCOUNTS = {
  alice: {
    email: 'alice@example.org',
    email_verified: true,
    given_name: 'Alice',
    family_name: 'Liddell',
    name: 'Alice Liddell',
    preferred_username: 'alice',
  },
  mallory: {
    email: 'mallory@example.org',
    email_verified: false,
    given_name: 'Mallory',
    family_name: 'Mallet',
    name: 'Mallory Mallet',
    preferred_username: 'mallory',
  },
  carol: {
    email: 'carol@example.org',
    email_verified: true,
    given_name: 'Carol',
    family_name: 'Danvers',
    name: 'Carol Danvers',
    preferred_username: 'carol',
    userinfoOnly: ['email', 'email_verified'],
  },
  // No email and no preferred user name: the portal must invent a user name.
  nemo: {
    given_name: 'Nemo',
    family_name: 'Nobody',
    name: 'Nemo Nobody',
  },
};

const SCOPE_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username'],
};

function accountClaims(accountId, use) {
  const { userinfoOnly = [], ...claims } = ACCOUNTS[accountId];
  const released = { sub: accountId };
  for (const [claim, value] of Object.entries(claims)) {
    if (use === 'userinfo' || !userinfoOnly.includes(claim)) {
      released[claim] = value;
    }
  }
  return released;
}

async function findAccount(_ctx, sub) {
  if (!Object.hasOwn(ACCOUNTS, sub)) {
    return undefined;
  }
  return {
    accountId: sub,
    // The provider keeps only the claims that the granted scopes (and claims) allow.
    async claims(use) {
      return accountClaims(sub, use);
    },
  };
}

function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) {
      throw new Error('request body too large');
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function loginPage(uid, clientId, message = '') {
  const options = Object.keys(ACCOUNTS)
    .map((id) => `<option value="${escapeHtml(id)}">${escapeHtml(id)}</option>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Test provider: log in</title></head>
<body>
<h1>Log in to ${escapeHtml(clientId)}</h1>
${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label>Account <select name="login">${options}</select></label>
  <button type="submit">Log in and allow</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort">
  <button type="submit">Refuse</button>
</form>
</body></html>
`;
}

async function handleInteraction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    send(res, 400, 'interaction mismatch', 'text/plain; charset=utf-8');
    return;
  }
  const { params, prompt } = details;

  if (req.method === 'GET' && !action) {
    send(res, 200, loginPage(uid, params.client_id));
    return;
  }
  if (req.method !== 'POST' || !action) {
    send(res, 405, 'method not allowed', 'text/plain; charset=utf-8');
    return;
  }

  const form = await readForm(req);
  if (action === 'abort') {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
    return;
  }

  const accountId = form.get('login') || '';
  if (!Object.hasOwn(ACCOUNTS, accountId)) {
    send(res, 400, loginPage(uid, params.client_id, `Unknown account ${accountId}`));
    return;
  }

  // Log in and grant, in one go, every scope and claim the client asked for.
  const grant = new provider.Grant({ accountId, clientId: params.client_id });
  if (params.scope) {
    grant.addOIDCScope(params.scope);
  }
  if (prompt.details.missingOIDCClaims) {
    grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  }
  if (params.claims) {
    const requested = JSON.parse(params.claims);
    const names = new Set();
    for (const part of ['id_token', 'userinfo']) {
      for (const name of Object.keys(requested[part] || {})) {
        names.add(name);
      }
    }
    grant.addOIDCClaims([...names]);
  }
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

function requestedPort() {
  const raw = process.argv[2] ?? process.env.OIDC_PROVIDER_PORT ?? '0';
  const port = Number.parseInt(raw, 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid port ${raw}`);
  }
  return port;
}

function providerConfiguration() {
  const clientId = process.env.OIDC_TEST_CLIENT_ID || 'portal';
  const clientSecret = process.env.OIDC_TEST_CLIENT_SECRET || 'portal-test-secret';
  const redirectUris = (
    process.env.OIDC_TEST_REDIRECT_URIS || 'http://testserver/accounts/oidc/callback/'
  )
    .split(/\s+/)
    .filter(Boolean);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' };

  return {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: SCOPE_CLAIMS,
    // Put the claims of the granted scopes in the ID token too, not only at userinfo.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
    },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount,
  };
}

async function main() {
  let provider;
  let handleProtocol;
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://127.0.0.1');
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?$/.exec(pathname);
    if (!match) {
      handleProtocol(req, res);
      return;
    }
    handleInteraction(provider, req, res, match[1], match[2]).catch((err) => {
      if (!res.headersSent) {
        send(res, 400, `interaction failed: ${err.message}`, 'text/plain; charset=utf-8');
      } else {
        res.destroy(err);
      }
    });
  });
  server.keepAliveTimeout = 1000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(requestedPort(), '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = new Provider(issuer, providerConfiguration());
  handleProtocol = provider.callback();

  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();

  process.stdout.write(`LISTENING ${issuer}\n`);
}

main().catch((err) => {
  process.stderr.write(`provider failed to start: ${err.stack || err}\n`);
  process.exit(1);
});

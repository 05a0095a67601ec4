/**
 * The pieces of test/fuzz.test.ts: an app built as lib/app.ts builds the example server (@fastify/swagger
 * before the plugin) on in-memory stores that can be put back to a seeded state before every request,
 * fast-check arbitraries for requests derived from the app's own OpenAPI document, and the checks every
 * answer must pass.
 */
import { createHmac } from 'node:crypto'
import { Readable } from 'node:stream'
import swagger from '@fastify/swagger'
import AjvModule, { type ValidateFunction } from 'ajv'
import fc from 'fast-check'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import accounts, { MemoryMailer, securitySchemes } from '../../lib/index.js'
import { encodeUid, OneTimeLinks } from '../../lib/one-time-links.js'
import type {
  AuthTokenRecord, NewRefreshToken, NewUser, RefreshClaim, RefreshSuccessor, RefreshTokenRecord, SessionRecord, TokenStore, User, UserExpectation, UserPatch, UserStore
} from '../../lib/ports.js'
import { MemoryTokenStore, MemoryUserStore } from '../../lib/stores/memory.js'
import { fastHasher, PASSWORD, SECRET } from './app.js'

type Json = any

const Ajv = AjvModule.default

export const BODY_LIMIT = 16384
const LINK_TIMEOUT = 259200

// ---- stores that can be put back to the seed --------------------------------------------------------

/** A MemoryUserStore behind a handle, so every run starts from the same seeded users. */
class ResettableUserStore implements UserStore {
  inner = new MemoryUserStore()
  createUser (data: NewUser): Promise<User> { return this.inner.createUser(data) }
  findUserById (id: number): Promise<User | null> { return this.inner.findUserById(id) }
  findUserByUsername (username: string): Promise<User | null> { return this.inner.findUserByUsername(username) }
  findUserByEmail (email: string): Promise<User | null> { return this.inner.findUserByEmail(email) }
  findUsersByUsernameIgnoringCase (username: string): Promise<User[]> { return this.inner.findUsersByUsernameIgnoringCase(username) }
  updateUser (id: number, patch: UserPatch, expect?: UserExpectation): Promise<User | null> { return this.inner.updateUser(id, patch, expect) }
  deleteUser (id: number): Promise<boolean> { return this.inner.deleteUser(id) }
  listUsers (): Promise<User[]> { return this.inner.listUsers() }
}

/**
 * A MemoryTokenStore behind a handle that records every mutating call and every key it was ever given,
 * so a snapshot can read back every record the store holds (its maps are private).
 */
class RecordingTokenStore implements TokenStore {
  inner = new MemoryTokenStore({ sweepIntervalSeconds: 0 })
  readonly jtis = new Set<string>()
  readonly hashes = new Set<string>()
  readonly calls: string[] = []

  #record (name: string, ...args: unknown[]): void {
    this.calls.push(`${name}(${args.map((a) => JSON.stringify(a)).join(', ')})`)
  }

  saveRefreshToken (record: NewRefreshToken): Promise<void> {
    this.#record('saveRefreshToken', record.jti)
    this.jtis.add(record.jti)
    return this.inner.saveRefreshToken(record)
  }

  findRefreshToken (jti: string): Promise<RefreshTokenRecord | null> { return this.inner.findRefreshToken(jti) }

  claimRefreshToken (jti: string, fallback: NewRefreshToken, successor?: RefreshSuccessor): Promise<RefreshClaim> {
    this.#record('claimRefreshToken', jti)
    this.jtis.add(jti)
    if (successor !== undefined) this.jtis.add(successor.jti)
    return this.inner.claimRefreshToken(jti, fallback, successor)
  }

  revokeRefreshToken (jti: string, fallback: NewRefreshToken): Promise<void> {
    this.#record('revokeRefreshToken', jti)
    this.jtis.add(jti)
    return this.inner.revokeRefreshToken(jti, fallback)
  }

  revokeRefreshFamily (family: string): Promise<number> {
    this.#record('revokeRefreshFamily', family)
    return this.inner.revokeRefreshFamily(family)
  }

  revokeUserRefreshTokens (userId: number): Promise<number> {
    this.#record('revokeUserRefreshTokens', userId)
    return this.inner.revokeUserRefreshTokens(userId)
  }

  saveAuthToken (record: AuthTokenRecord): Promise<void> {
    this.#record('saveAuthToken', record.hash.slice(0, 8))
    this.hashes.add(record.hash)
    return this.inner.saveAuthToken(record)
  }

  findAuthToken (hash: string): Promise<AuthTokenRecord | null> { return this.inner.findAuthToken(hash) }

  deleteAuthToken (hash: string): Promise<boolean> {
    this.#record('deleteAuthToken', hash.slice(0, 8))
    return this.inner.deleteAuthToken(hash)
  }

  deleteUserAuthTokens (userId: number): Promise<number> {
    this.#record('deleteUserAuthTokens', userId)
    return this.inner.deleteUserAuthTokens(userId)
  }

  purgeExpired (now: Date): Promise<number> {
    this.#record('purgeExpired', now.toISOString())
    return this.inner.purgeExpired(now)
  }

  saveSession (record: SessionRecord): Promise<void> {
    this.#record('saveSession', record.id.slice(0, 8))
    return this.inner.saveSession(record)
  }

  // A session's last use changes with every authenticated request, whatever its answer: not a mutation the fuzz checks.
  touchSession (record: SessionRecord, staleBefore: Date): Promise<void> { return this.inner.touchSession(record, staleBefore) }

  listSessions (userId: number, now: Date): Promise<SessionRecord[]> { return this.inner.listSessions(userId, now) }

  /** Every record the store holds, in a stable order. */
  async state (): Promise<Json> {
    const refresh = await Promise.all([...this.jtis].sort().map(async (jti) => [jti, await this.inner.findRefreshToken(jti)]))
    const auth = await Promise.all([...this.hashes].sort().map(async (hash) => {
      const record = await this.inner.findAuthToken(hash)
      return [hash, record === null ? null : { ...record, lastUsedAt: undefined }]
    }))
    return { size: this.inner.size, refresh, auth }
  }
}

// ---- the app and its seeded world -------------------------------------------------------------------

export const USERS = {
  alice: { id: 1, username: 'alice', email: 'alice@example.com', isActive: true, isStaff: false },
  bob: { id: 2, username: 'bob', email: 'bob@example.com', isActive: false, isStaff: false },
  staff: { id: 3, username: 'staff', email: 'staff@example.com', isActive: true, isStaff: true },
  /** Active, with an unusable password (Django's set_unusable_password). */
  carol: { id: 4, username: 'carol', email: 'carol@example.com', isActive: true, isStaff: false }
} as const

export interface Credentials {
  aliceAccess: string
  aliceRefresh: string
  staffAccess: string
  staffRefresh: string
  /** Bob is inactive: his tokens are well formed and signed, and refused. */
  bobAccess: string
  bobRefresh: string
  aliceKey: string
  staffKey: string
  bobKey: string
  /** Signed with the right key, for a user that does not exist. */
  ghostAccess: string
  ghostRefresh: string
  /** Signed with the right key, and expired. */
  expiredAccess: string
  expiredRefresh: string
  /** Signed with the right key, with a user id as a string of digits (simplejwt looks it up as the id: accepted). */
  aliceStringId: string
  /** Signed with the right key, with claims that must be refused. */
  odd: string[]
  /** Signed with the right key, with claims our verifier and simplejwt may judge differently (1.5 as an id). */
  doubtful: string[]
  /** Not signed with the right key: wrong key, alg none, tampered payload or signature. */
  forged: string[]
}

export interface Links {
  uids: string[]
  /** Valid link tokens (activation of bob, stale activation of alice, resets of alice). */
  tokens: string[]
}

/** One account's values, for bodies whose fields agree with each other (a login that can succeed). */
export interface Persona {
  username: string
  /** Other spellings a client may send for a new account (Unicode that Django would normalize). */
  aliases?: string[]
  email: string
  password: string
  uid: string
  /** Its mailed-link tokens (any purpose) and its JWTs. */
  tokens: string[]
  refresh: string[]
}

export interface FuzzWorld {
  app: FastifyInstance
  /** The stores the app uses (for the self-test of the checks). */
  stores: { users: UserStore, tokens: TokenStore }
  personas: Persona[]
  doc: Json
  mailer: MemoryMailer
  credentials: Credentials
  links: Links
  /** Puts the stores and the outbox back to the seeded state. */
  reset (): Promise<void>
  /** The user store (every field), every token record, and the outbox, as one comparable string. */
  snapshot (): Promise<string>
  /** The token store's mutating calls since the last reset. */
  tokenCalls (): string[]
  /** What must hold after any request, even a successful one: no privilege gained, no malformed account, no orphan token. */
  invariants (): Promise<string[]>
}

function b64url (value: string | Buffer): string {
  return Buffer.from(value).toString('base64url')
}

/** An HS256 JWT signed by hand: any header, any payload, any key. */
export function signJwt (payload: Json, key: string, header: Json = { alg: 'HS256', typ: 'JWT' }): string {
  const head = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`
}

/** The example server's swagger options (lib/app.ts), so the document has the same security schemes. */
const SWAGGER = {
  openapi: {
    openapi: '3.0.3',
    info: { title: 'fastify-accounts (fuzz)', version: '0.0.0' },
    components: { securitySchemes: { ...securitySchemes } }
  },
  refResolver: {
    buildLocalReference (json: Json, _baseUri: unknown, _fragment: unknown, i: number): string {
      return typeof json.$id === 'string' && json.$id !== '' ? json.$id : `def-${i}`
    }
  }
} as const

export async function buildFuzzWorld (): Promise<FuzzWorld> {
  const users = new ResettableUserStore()
  const tokens = new RecordingTokenStore()
  const mailer = new MemoryMailer()
  const app = Fastify({ logger: false })
  await app.register(swagger, SWAGGER as Json)
  await app.register(accounts, {
    prefix: '/auth',
    // As lib/app.ts: protected routes declare their security, which tells this file which ones they are.
    openApiSecurity: true,
    store: { users, tokens },
    mailer,
    passwordHasher: fastHasher,
    rateLimit: false,
    // Long enough that the seeded access tokens outlive a long FUZZ_RUNS run.
    jwt: { signingKey: SECRET, accessTokenLifetime: 24 * 3600 }
  })
  // A route of the host app behind app.authenticate, as the README shows.
  app.get('/private', {
    schema: {
      summary: 'A host route behind app.authenticate',
      security: [{ jwt: [] }, { token: [] }],
      response: { 200: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'integer' } } } }
    },
    onRequest: app.authenticate
  }, async (request) => ({ id: request.user!.id }))
  await app.ready()

  // Seed: users written straight to the store with one precomputed hash, fixed dates.
  const hash = await fastHasher.hash(PASSWORD)
  const joined = new Date('2024-01-01T00:00:00Z')
  const seedUsers: User[] = Object.values(USERS).map((u) => ({
    ...u,
    firstName: '',
    lastName: '',
    password: u.username === 'carol' ? '' : hash,
    isSuperuser: false,
    lastLogin: u.username === 'alice' ? new Date('2024-06-01T00:00:00Z') : null,
    dateJoined: joined
  }))
  for (const u of seedUsers) await users.createUser(u)

  const service = app.accounts.tokens
  const jwt = app.accounts.jwt
  const alice = await service.issuePair(USERS.alice.id)
  const staff = await service.issuePair(USERS.staff.id)
  const bob = await service.issuePair(USERS.bob.id)
  const aliceKey = await service.createAuthToken(USERS.alice.id)
  const staffKey = await service.createAuthToken(USERS.staff.id)
  const bobKey = await service.createAuthToken(USERS.bob.id)
  const now = Math.floor(Date.now() / 1000)
  const claims = (type: string, extra: Json = {}): Json => ({ user_id: USERS.alice.id, token_type: type, jti: `fuzz${type}${Object.keys(extra).join('')}`, exp: now + 24 * 3600, iat: now, ...extra })
  const [h, p, s] = alice.access.split('.')
  const forgedPayload = b64url(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), user_id: USERS.staff.id }))
  const credentials: Credentials = {
    aliceAccess: alice.access,
    aliceRefresh: alice.refresh,
    staffAccess: staff.access,
    staffRefresh: staff.refresh,
    bobAccess: bob.access,
    bobRefresh: bob.refresh,
    aliceKey,
    staffKey,
    bobKey,
    ghostAccess: jwt.sign(claims('access', { user_id: 999 })),
    ghostRefresh: jwt.sign(claims('refresh', { user_id: 999 })),
    expiredAccess: jwt.sign(claims('access', { exp: now - 3600, iat: now - 7200 })),
    expiredRefresh: jwt.sign(claims('refresh', { exp: now - 3600, iat: now - 7200 })),
    aliceStringId: jwt.sign(claims('access', { user_id: String(USERS.alice.id) })),
    doubtful: [
      jwt.sign(claims('access', { user_id: 1.5 })),
      jwt.sign(claims('access', { user_id: '01' })),
      jwt.sign(claims('access', { user_id: 1, [`extra${'x'.repeat(10)}`]: 'claim' })),
      // Signed with the real key, but its `kid` names no configured key: refused (a kid picks the key).
      signJwt(claims('access'), SECRET, { alg: 'HS256', typ: 'JWT', kid: '../../../../dev/null' })
    ],
    odd: [
      jwt.sign(claims('access', { user_id: -1 })),
      jwt.sign(claims('access', { user_id: 0 })),
      jwt.sign(claims('access', { user_id: 1e300 })),
      jwt.sign(claims('access', { user_id: '1 ' })),
      jwt.sign(claims('access', { user_id: '' })),
      jwt.sign(claims('access', { user_id: { id: 1 } })),
      jwt.sign(claims('access', { user_id: [1] })),
      jwt.sign(claims('access', { user_id: null })),
      jwt.sign(claims('access', { token_type: 'refresh ' })),
      jwt.sign(claims('access', { token_type: ['access'] })),
      jwt.sign(claims('access', { jti: 42 })),
      jwt.sign(claims('refresh', { jti: { $ne: null } })),
      jwt.sign(claims('refresh', { user_id: '__proto__' })),
      jwt.sign(claims('refresh', { ['__proto__' as string]: { polluted: 'yes' }, constructor: { prototype: { polluted: 'yes' } } })),
      jwt.sign(claims('access', { nbf: now + 3600 })),
      jwt.sign({ user_id: USERS.alice.id, token_type: 'access', exp: now + 3600 }),
      jwt.sign({ user_id: USERS.alice.id, jti: 'x', exp: now + 3600 }),
      jwt.sign({ user_id: USERS.alice.id, token_type: 'access', jti: 'noexp' })
    ],
    forged: [
      signJwt(claims('access'), 'not-the-secret-0123456789abcdef0123456789'),
      signJwt(claims('refresh'), 'not-the-secret-0123456789abcdef0123456789'),
      `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(claims('access')))}.`,
      `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify(claims('refresh')))}.`,
      signJwt(claims('access'), SECRET, { alg: 'HS512', typ: 'JWT' }),
      `${h}.${forgedPayload}.${s}`,
      `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`,
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
      `${h}..${s}`,
      `.${p}.${s}`,
      `${h.toUpperCase()}.${p}.${s}`,
      `${Buffer.from('{"alg":"HS256"').toString('base64url')}.${p}.${s}`
    ]
  }

  // The seeded token records, replayed into every fresh store.
  const seedRefresh = await Promise.all([...tokens.jtis].map(async (jti) => (await tokens.inner.findRefreshToken(jti))!))
  const seedAuth = await Promise.all([...tokens.hashes].map(async (hash) => (await tokens.inner.findAuthToken(hash))!))
  const seedJtis = [...tokens.jtis]
  const seedHashes = [...tokens.hashes]

  const linkMaker = new OneTimeLinks(SECRET, LINK_TIMEOUT)
  const byName = Object.fromEntries(seedUsers.map((u) => [u.username, u])) as Record<keyof typeof USERS, User>
  const links: Links = {
    uids: [...Object.values(USERS).map((u) => encodeUid(u.id)), encodeUid(999), 'MA', encodeUid(Number.MAX_SAFE_INTEGER), encodeUid(2 ** 60)],
    tokens: [
      linkMaker.make('activation', byName.bob),
      // Alice is active: her activation link is stale (403).
      linkMaker.make('activation', { ...byName.alice, isActive: false }),
      linkMaker.make('password-reset', byName.alice),
      linkMaker.make('username-reset', byName.alice),
      linkMaker.make('password-reset', byName.carol),
      linkMaker.make('password-reset', byName.alice, Date.now() - (LINK_TIMEOUT + 60) * 1000)
    ]
  }

  const c = credentials
  const t = links.tokens
  const personas: Persona[] = [
    { username: 'alice', email: 'alice@example.com', password: PASSWORD, uid: encodeUid(1), tokens: [t[1], t[2], t[3], c.aliceAccess, c.aliceRefresh], refresh: [c.aliceRefresh, c.aliceAccess] },
    { username: 'bob', email: 'bob@example.com', password: PASSWORD, uid: encodeUid(2), tokens: [t[0], c.bobRefresh], refresh: [c.bobRefresh] },
    { username: 'staff', email: 'staff@example.com', password: PASSWORD, uid: encodeUid(3), tokens: [c.staffAccess, c.staffRefresh], refresh: [c.staffRefresh] },
    { username: 'carol', email: 'carol@example.com', password: PASSWORD, uid: encodeUid(4), tokens: [t[4]], refresh: [c.ghostRefresh] },
    {
      username: 'newcomer',
      aliases: ['e\u0301mile', 'ｎｅｗｃｏｍｅｒ', 'ﬃ', 'Ⅻ', '\u0301', 'ǅ', 'émile'],
      email: 'newcomer@example.com',
      password: 'another-long-passphrase-42',
      uid: encodeUid(5),
      tokens: [t[5]],
      refresh: [c.expiredRefresh]
    }
  ]

  async function reset (): Promise<void> {
    users.inner = new MemoryUserStore()
    for (const u of seedUsers) await users.inner.createUser(u)
    tokens.inner = new MemoryTokenStore({ sweepIntervalSeconds: 0 })
    for (const r of seedRefresh) {
      await tokens.inner.saveRefreshToken(r)
      if (r.usedAt !== null || r.revokedAt !== null) throw new Error('seeded refresh records are fresh')
    }
    for (const a of seedAuth) await tokens.inner.saveAuthToken(a)
    tokens.jtis.clear()
    tokens.hashes.clear()
    for (const jti of seedJtis) tokens.jtis.add(jti)
    for (const hash of seedHashes) tokens.hashes.add(hash)
    tokens.calls.length = 0
    mailer.clear()
  }

  async function snapshot (): Promise<string> {
    return JSON.stringify({
      users: await users.inner.listUsers(),
      tokens: await tokens.state(),
      mail: mailer.outbox.map((m) => `${m.to}: ${m.subject}`)
    })
  }

  const seedById = new Map(seedUsers.map((u) => [u.id, u]))
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
  const CONTROL = /[\u0000-\u001f\u007f]/
  const DJANGO_USERNAME = /^[\p{L}\p{N}_.@+-]+$/u
  /** A string as JSON with every non-ASCII code unit escaped, so a combining mark is visible. */
  const ascii = (text: string): string => JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  async function invariants (): Promise<string[]> {
    const problems: string[] = []
    const list = await users.inner.listUsers()
    const ids = new Set(list.map((u) => u.id))
    for (const u of list) {
      const seed = seedById.get(u.id)
      const who = `user ${u.id} (${ascii(u.username)})`
      if (u.isSuperuser) problems.push(`${who} became a superuser`)
      if (u.isStaff !== (seed?.isStaff ?? false)) problems.push(`${who}: isStaff is ${u.isStaff}`)
      if (seed === undefined && u.isActive) problems.push(`${who} is new and already active`)
      if (seed !== undefined && seed.isActive && !u.isActive && u.email.toLowerCase() === seed.email.toLowerCase()) problems.push(`${who} was deactivated`)
      for (const [field, value, max] of [['username', u.username, 150], ['email', u.email, 254]] as const) {
        if (value === '' || value.length > max || CONTROL.test(value) || LONE_SURROGATE.test(value)) problems.push(`${who} has a malformed ${field}: ${JSON.stringify(value.slice(0, 80))}`)
      }
      // What Django stores: the username NFKC-normalized (AbstractBaseUser.normalize_username) and valid for
      // UnicodeUsernameValidator (^[\w.@+-]+\Z, Python's \w being letters, digits and _).
      if (u.username !== u.username.normalize('NFKC')) problems.push(`${who}: the stored username is not NFKC-normalized (Django would store ${ascii(u.username.normalize('NFKC'))})`)
      if (!DJANGO_USERNAME.test(u.username)) problems.push(`${who}: the stored username fails Django's UnicodeUsernameValidator`)
      if (!u.email.includes('@')) problems.push(`${who} has an email without @: ${JSON.stringify(u.email)}`)
      if (u.password !== '' && !u.password.startsWith('$argon2id$')) problems.push(`${who} has a password that is not an argon2id hash`)
      if (u.password === '' && seed?.password !== '') problems.push(`${who} lost its password`)
    }
    const lower = list.map((u) => u.email.toLowerCase())
    if (new Set(lower).size !== lower.length) problems.push(`two users share an email: ${lower.join(', ')}`)
    if (new Set(list.map((u) => u.username)).size !== list.length) problems.push('two users share a username')
    for (const hash of tokens.hashes) {
      const record = await tokens.inner.findAuthToken(hash)
      if (record !== null && !ids.has(record.userId)) problems.push(`an opaque token of user ${record.userId}, who does not exist`)
    }
    for (const jti of tokens.jtis) {
      const record = await tokens.inner.findRefreshToken(jti)
      if (record !== null && seedById.has(record.userId) && !ids.has(record.userId) && record.revokedAt === null) problems.push(`a live refresh token of deleted user ${record.userId}`)
    }
    return problems
  }

  await reset()
  return { app, stores: { users, tokens }, personas, invariants, doc: app.swagger(), mailer, credentials, links, reset, snapshot, tokenCalls: () => [...tokens.calls] }
}

// ---- the operations of the document -----------------------------------------------------------------

export interface Operation {
  method: string
  /** As in the document: `/auth/users/{id}/`. */
  path: string
  secured: boolean
  /** The JSON request body schema, $refs resolved; undefined when the operation reads no body. */
  body: Json | undefined
  responses: Record<string, Json>
  pathParams: string[]
}

export function deref (doc: Json, schema: Json): Json {
  if (schema?.$ref === undefined) return schema
  const match = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)
  if (match === null) throw new Error(`not a local schema reference: ${schema.$ref}`)
  return doc.components.schemas[decodeURIComponent(match[1])]
}

export function operationsOf (doc: Json): Operation[] {
  const ops: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(item as Record<string, Json>)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue
      const body = op.requestBody?.content?.['application/json']?.schema
      ops.push({
        method: method.toUpperCase(),
        path,
        secured: Array.isArray(op.security) && op.security.length > 0,
        body: body === undefined ? undefined : deref(doc, body),
        responses: op.responses ?? {},
        pathParams: ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path').map((p) => p.name as string)
      })
    }
  }
  return ops
}

// ---- JSON values with the keys JSON.stringify cannot write ------------------------------------------

/** An object as a list of entries: `__proto__` is a plain key here, and a key may repeat. */
export class JObj {
  constructor (readonly entries: Array<[string, JVal]>) {}
}
/** JSON text written as is (numbers JavaScript cannot hold, deep nesting). */
export class JRaw {
  constructor (readonly text: string) {}
}
export type JVal = null | boolean | number | string | JVal[] | JObj | JRaw

export function toJson (value: JVal): string {
  if (value instanceof JRaw) return value.text
  if (value instanceof JObj) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`
  return JSON.stringify(value)
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/

/** Percent-encodes the UTF-8 bytes of a string (a lone surrogate becomes U+FFFD, as a browser sends it). */
export function formEncode (text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += UNRESERVED.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

function formPairs (key: string, value: JVal): string[] {
  if (value instanceof JObj) return value.entries.flatMap(([k, v]) => formPairs(`${key}[${k}]`, v))
  if (Array.isArray(value)) return value.length === 0 ? [`${formEncode(key)}=`] : value.flatMap((v) => formPairs(key, v))
  if (value instanceof JRaw) return [`${formEncode(key)}=${formEncode(value.text)}`]
  return [`${formEncode(key)}=${value === null ? '' : formEncode(String(value))}`]
}

/** A body as application/x-www-form-urlencoded: nested values in bracket keys, lists as repeated keys. */
export function toForm (value: JVal): string {
  if (value instanceof JObj) return value.entries.flatMap(([k, v]) => formPairs(k, v)).join('&')
  if (value instanceof JRaw) return formEncode(value.text)
  return Array.isArray(value) ? value.map((v) => formEncode(toJson(v))).join('&') : formEncode(String(value))
}

// ---- arbitraries ------------------------------------------------------------------------------------

const char = (min: number, max: number): fc.Arbitrary<string> => fc.integer({ min, max }).map((c) => String.fromCharCode(c))

/** What can travel in an HTTP header: visible ASCII, space, tab and obs-text (Latin-1). */
const headerChar = fc.oneof({ weight: 8, arbitrary: char(0x20, 0x7e) }, { weight: 1, arbitrary: fc.constant('\t') }, { weight: 1, arbitrary: char(0x80, 0xff) })
export const headerText = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: headerChar, maxLength })

const NASTY = [
  '', ' ', '\u0000', 'a\u0000b', 'alice\u0000', '\t\n\r', '\u202e', '\ufeff', '\ud800', '\udfff', 'a\udc00b', '\ud83d',
  '%00', '../../etc/passwd', "' OR 1=1 --", '${jndi:ldap://x}', '{{7*7}}', '%s%n', '\\', '"', '__proto__', 'constructor',
  'prototype', 'null', 'undefined', 'NaN', 'true', '[object Object]', '😀', 'é', 'Ⅻ', '١٢٣', 'İ', 'ß', 'ﬃ', 'a\u0301',
  '\u200b', 'alice ', ' alice', 'ALICE', 'Alice', '\u0085', '\u2028'
]

/** Strings with NUL and control characters, lone surrogates, any code point, and known troublemakers. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ unit: char(0, 0x1f), minLength: 1, maxLength: 12 }),
  fc.string({ unit: char(0xd800, 0xdfff), minLength: 1, maxLength: 4 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.oneof(char(0x20, 0x7e), char(0, 0x1f), char(0xd800, 0xdfff), fc.constantFrom('😀', 'é', '\u0000')), maxLength: 30 })
)

/** Long strings: just over each maxLength, and up to past the body limit. */
export const hugeString: fc.Arbitrary<string> = fc.tuple(
  fc.oneof(fc.constantFrom(151, 255, 4097, 8193, BODY_LIMIT + 1), fc.integer({ min: 100, max: BODY_LIMIT + 4096 })),
  fc.constantFrom('a', 'é', '\u0000', '😀', '\ud800', 'ab@c.de', '1')
).map(([n, c]) => c.repeat(Math.max(1, Math.ceil(n / c.length))))

/** Nesting 50 to a few thousand deep, as raw JSON (so the generator does not recurse). */
export const deepJson: fc.Arbitrary<JRaw> = fc.tuple(
  fc.integer({ min: 50, max: 3000 }),
  fc.constantFrom('[', '{"a":', '{"__proto__":', '{"constructor":{"prototype":', '[{"x":'),
  fc.constantFrom('1', '"x"', 'null', '{"polluted":"yes"}', '[]', '{}')
).map(([depth, open, leaf]) => {
  const close = open === '[' ? ']' : open === '[{"x":' ? '}]' : open.startsWith('{"constructor"') ? '}}' : '}'
  return new JRaw(open.repeat(depth) + leaf + close.repeat(depth))
})

const rawNumber = fc.constantFrom('1e400', '-1e400', '-0', '0.0000001', '123456789012345678901234567890', '1E2', '0e0', '9007199254740993').map((t) => new JRaw(t))

const POLLUTING_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isStaff', 'is_staff', 'is_superuser', 'isActive', 'is_active', 'id', 'password', 'polluted']

/** A JSON value that is not a plausible field value: other types, nesting, pollution keys. */
export function wrongValue (plausible: fc.Arbitrary<string>): fc.Arbitrary<JVal> {
  const leaf: fc.Arbitrary<JVal> = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), rawNumber, plausible, nastyString)
  const pollution = fc.tuple(fc.constantFrom(...POLLUTING_KEYS), leaf).map(([k, v]): JVal => new JObj([[k, v]]))
  return fc.oneof(
    fc.integer(),
    fc.constantFrom(0, -1, 1.5, 1e308, 12345678, 2 ** 53 + 2),
    fc.double({ noNaN: false }),
    fc.boolean(),
    fc.constant(null),
    rawNumber,
    fc.array(leaf, { maxLength: 4 }),
    fc.constant([] as JVal[]),
    fc.constant(new JObj([])),
    pollution,
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...POLLUTING_KEYS), fc.string({ maxLength: 8 })), leaf), { maxLength: 4 }).map((e) => new JObj(e)),
    deepJson
  )
}

/** Values a field name suggests: the seeded logins, real tokens and links, and near misses. */
export function plausibleFor (field: string, w: FuzzWorld): fc.Arbitrary<string> {
  const c = w.credentials
  const jwts = [c.aliceAccess, c.aliceRefresh, c.staffRefresh, c.bobRefresh, c.ghostRefresh, c.expiredRefresh, c.expiredAccess, ...c.odd, ...c.forged]
  const text = fc.string({ maxLength: 30 })
  if (/password/.test(field)) {
    return fc.oneof(fc.constantFrom(PASSWORD, 'another-long-passphrase-42', 'short', '12345678', 'password', 'alice', 'alice@example.com', `${PASSWORD} `), text)
  }
  if (/username/.test(field)) {
    return fc.oneof(fc.constantFrom('alice', 'bob', 'staff', 'carol', 'ALICE', 'mallory', 'new_user_1', 'a'.repeat(150), 'ünïcødé', 'user name', '@.+-_', '12345'), text)
  }
  if (/email/.test(field)) {
    return fc.oneof(fc.constantFrom('alice@example.com', 'bob@example.com', 'carol@example.com', 'staff@example.com', 'ALICE@EXAMPLE.COM', 'new@example.com', 'not-an-email', 'a@b', `${'x'.repeat(64)}@example.com`, 'a@-b.com'), fc.emailAddress(), text)
  }
  if (field === 'uid') return fc.oneof(fc.constantFrom(...w.links.uids), fc.base64String({ maxLength: 30 }), text)
  if (field === 'token') return fc.oneof(fc.constantFrom(...w.links.tokens), fc.constantFrom(...jwts), fc.constantFrom('abc-123', '0-' + '0'.repeat(40), 'zzzzzzzzzzzzz-' + 'f'.repeat(40)), text)
  if (field === 'refresh') return fc.oneof(fc.constantFrom(...jwts), fc.constant('a.b.c'), text)
  return text
}

/** A field's value: mostly plausible, else anything a client could put there. */
export function fieldValue (field: string, w: FuzzWorld): fc.Arbitrary<JVal> {
  const plausible = plausibleFor(field, w)
  return fc.oneof(
    { weight: 6, arbitrary: plausible },
    { weight: 2, arbitrary: nastyString },
    { weight: 1, arbitrary: hugeString },
    { weight: 3, arbitrary: wrongValue(plausible) }
  )
}

/** A body shaped by the schema (each field present or missing, any value), plus extra keys, possibly repeated. */
export function objectBody (schema: Json, w: FuzzWorld): fc.Arbitrary<JObj> {
  const properties = Object.keys(schema?.properties ?? {})
  const required = new Set<string>(schema?.required ?? [])
  const fields = properties.map((name) => fc.option(fieldValue(name, w).map((v): [string, JVal] => [name, v]), { freq: required.has(name) ? 8 : 2, nil: undefined }))
  const extraKey = fc.oneof(fc.constantFrom(...POLLUTING_KEYS, ...properties.map((p) => p.toUpperCase()), 'a'.repeat(5000)), fc.string({ maxLength: 10 }), nastyString)
  const extra = fc.array(fc.tuple(extraKey, fc.oneof(fc.string({ maxLength: 10 }), wrongValue(fc.string({ maxLength: 10 })))), { maxLength: 3 })
  const repeated = properties.length === 0 ? fc.constant([] as Array<[string, JVal]>) : fc.array(fc.constantFrom(...properties).chain((name) => fieldValue(name, w).map((v): [string, JVal] => [name, v])), { maxLength: 1 })
  return fc.tuple(fc.tuple(...fields), fc.oneof({ weight: 3, arbitrary: fc.constant([] as Array<[string, JVal]>) }, { weight: 2, arbitrary: extra }), repeated, fc.boolean())
    .map(([present, extras, again, extrasFirst]) => {
      const own = present.filter((e): e is [string, JVal] => e !== undefined)
      return new JObj(extrasFirst ? [...extras, ...own, ...again] : [...own, ...again, ...extras])
    })
}

/** A field's value for one persona: what a real client of that account would send. */
function coherentValue (field: string, p: Persona): fc.Arbitrary<string> {
  switch (field) {
    case 'username': return fc.constantFrom(p.username, ...(p.aliases ?? []))
    case 'email': return fc.constantFrom(p.email, p.email.toUpperCase())
    case 'password': case 're_password': case 'current_password': return fc.constant(p.password)
    case 'new_password': case 're_new_password': return fc.constant('brand-new-passphrase-77')
    case 'new_username': case 're_new_username': return fc.constantFrom(`renamed_${p.username}`, `${p.username}\u0301`, 'ｒｅｎａｍｅｄ')
    case 'new_email': case 're_new_email': return fc.constant(`renamed.${p.email}`)
    case 'uid': return fc.constant(p.uid)
    case 'token': return fc.constantFrom(...p.tokens)
    case 'refresh': return fc.constantFrom(...p.refresh)
    default: return fc.string({ maxLength: 10 })
  }
}

/** A well-formed body whose fields agree (one persona's login, password, link): the requests that can succeed. */
export function coherentBody (schema: Json, w: FuzzWorld): fc.Arbitrary<JObj> {
  const properties = Object.keys(schema?.properties ?? {})
  const required = new Set<string>(schema?.required ?? [])
  return fc.constantFrom(...w.personas).chain((p) => fc.tuple(...properties.map((name) =>
    required.has(name) ? coherentValue(name, p).map((v): [string, JVal] | undefined => [name, v]) : fc.option(coherentValue(name, p).map((v): [string, JVal] => [name, v]), { nil: undefined })
  ))).map((entries) => new JObj(entries.filter((e): e is [string, JVal] => e !== undefined)))
}

/** Any body: mostly an object after the schema, else a JSON value that is not an object. */
export function anyBody (schema: Json, w: FuzzWorld): fc.Arbitrary<JVal> {
  return fc.oneof(
    { weight: 8, arbitrary: objectBody(schema, w) },
    { weight: 4, arbitrary: coherentBody(schema, w) },
    { weight: 2, arbitrary: wrongValue(fc.string({ maxLength: 10 })) },
    { weight: 1, arbitrary: nastyString }
  )
}

const INVALID_JSON = [
  '{', '}', '[', '{"a":}', "{'username':'alice'}", '{"username":"alice",}', '{"username" "alice"}', 'NaN', 'Infinity', 'undefined',
  '{"a":1}{"b":2}', '[1,]', '"\\x41"', '"\\u12"', '"\\ud800"', '{"a":"\u0000"}', '{"a":01}', '{"a":.5}', '{"a":+1}', '// c\n{}',
  '{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}', '{"a":{"__proto__":{"polluted":"yes"}}}',
  '\u0000', '\ufeff{}', 'null', 'true', '0', '""', '   ', '\n', '{"username":"alice"} trailing', '{"a":1e999999}', '\\', 'true false'
]
const INVALID_FORM = [
  '%ZZ=1', 'a=%E0%A4%A', 'username=%ED%A0%80', 'username=%C0%AF', 'username=%FF%FE', '=&=&', '&&&', 'a', 'username', '%', 'username=%',
  '__proto__[polluted]=yes', '__proto__=yes&constructor=yes', 'constructor[prototype][polluted]=yes', 'username=a&username=b',
  'username[]=a', 'username[0]=a&username[1]=b', ';;;', 'username=alice;password=x', '+=+', `${'k'.repeat(3000)}=v`, 'a=b=c'
]

/** Bytes that are not UTF-8, in and around JSON. */
const invalidUtf8: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom(
    [0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]
  ).map((bytes) => Buffer.from(bytes)),
  fc.tuple(fc.constantFrom('{"username":"', '{"email":"', '{"password":"', '{"token":"', '{"refresh":"', '{"'), fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xf4, 0x90, 0x80, 0x80]))
    .map(([start, bytes]) => Buffer.concat([Buffer.from(start), Buffer.from(bytes), Buffer.from('"}')])),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes))
)

export type PayloadKind = 'json' | 'form' | 'raw' | 'none'

export interface Payload {
  kind: PayloadKind
  payload: string | Buffer | undefined
  contentType: string | undefined
}

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8', 'application/json; charset=latin1', 'application/json; charset=utf-16']
const FORM_TYPES = ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'APPLICATION/X-WWW-FORM-URLENCODED']
const OTHER_TYPES = [
  'text/plain', 'text/plain; charset=utf-8', 'multipart/form-data; boundary=----fuzz', 'multipart/form-data', 'application/xml', 'text/html',
  'application/octet-stream', '*/*', '', 'application/vnd.api+json', 'application/jsonx', 'json', 'application/json/x', ';', 'garbage',
  'application/x-www-form-urlencoded-x', 'application/json; boundary=x; charset=utf-8; charset=latin1'
]

/** Any Content-Type a client could send, or none. */
export const anyContentType: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constantFrom(...JSON_TYPES, ...FORM_TYPES, ...OTHER_TYPES),
  fc.constant(undefined),
  headerText(60)
)

const MULTIPART = '------fuzz\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n------fuzz\r\nContent-Disposition: form-data; name="password"\r\n\r\n' + PASSWORD + '\r\n------fuzz--\r\n'

/** A payload and its Content-Type: JSON, form, raw garbage or nothing, the type matching or not. */
export function payloadArb (schema: Json, w: FuzzWorld, readsBody: boolean): fc.Arbitrary<Payload> {
  const body = anyBody(schema, w)
  const json = fc.tuple(body, fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...JSON_TYPES) }, { weight: 1, arbitrary: anyContentType }))
    .map(([b, contentType]): Payload => ({ kind: 'json', payload: toJson(b), contentType }))
  const form = fc.tuple(body, fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...FORM_TYPES) }, { weight: 1, arbitrary: anyContentType }))
    .map(([b, contentType]): Payload => ({ kind: 'form', payload: toForm(b), contentType }))
  const truncated = fc.tuple(objectBody(schema, w), fc.nat()).map(([b, n]) => { const text = toJson(b); return text.slice(0, n % Math.max(1, text.length)) })
  const raw = fc.tuple(
    fc.oneof(
      fc.constantFrom(...INVALID_JSON),
      fc.constantFrom(...INVALID_FORM),
      truncated,
      invalidUtf8,
      objectBody(schema, w).map((b) => Buffer.from(toJson(b), 'utf16le')),
      objectBody(schema, w).map((b) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(toJson(b))])),
      fc.constant(MULTIPART),
      fc.string({ unit: 'binary', maxLength: 60 })
    ),
    fc.oneof(fc.constantFrom(...JSON_TYPES, ...FORM_TYPES), anyContentType)
  ).map(([payload, contentType]): Payload => ({ kind: 'raw', payload, contentType }))
  const none = anyContentType.map((contentType): Payload => ({ kind: 'none', payload: undefined, contentType }))
  return readsBody
    ? fc.oneof({ weight: 8, arbitrary: json }, { weight: 3, arbitrary: form }, { weight: 4, arbitrary: raw }, { weight: 1, arbitrary: none })
    : fc.oneof({ weight: 4, arbitrary: none }, { weight: 1, arbitrary: json }, { weight: 1, arbitrary: form }, { weight: 1, arbitrary: raw })
}

/**
 * How an Authorization header should fare: `valid` names an active user with a working credential;
 * `invalid` must never authenticate; `none` is no credential at all; `doubtful` is not judged.
 */
export type AuthKind = 'valid' | 'invalid' | 'none' | 'doubtful'

export interface AuthHeader {
  kind: AuthKind
  value: string | undefined
  /** For a valid credential: whose it is. */
  user?: number
}

export function authArb (w: FuzzWorld, secured: boolean): fc.Arbitrary<AuthHeader> {
  const c = w.credentials
  const v = (value: string): AuthHeader => ({ kind: 'valid', value, user: value.includes(c.staffAccess) || value.includes(c.staffKey) ? USERS.staff.id : USERS.alice.id })
  const bad = (value: string): AuthHeader => ({ kind: 'invalid', value })
  const valid = fc.constantFrom(
    v(`Bearer ${c.aliceAccess}`), v(`Bearer ${c.staffAccess}`), v(`Token ${c.aliceKey}`), v(`Token ${c.staffKey}`),
    // DRF's TokenAuthentication compares the keyword case-insensitively; split on any run of whitespace.
    v(`token ${c.aliceKey}`), v(`Bearer   ${c.aliceAccess}`), v(`Bearer\t${c.staffAccess}`), v(` Bearer ${c.aliceAccess} `),
    v(`Bearer ${c.aliceStringId}`)
  )
  const doubtful = fc.constantFrom(...c.doubtful).map((token): AuthHeader => ({ kind: 'doubtful', value: `Bearer ${token}` }))
  const wrong = fc.oneof(
    fc.constantFrom(
      // Well formed and refused: wrong type, inactive or missing user, expired.
      bad(`Bearer ${c.aliceRefresh}`), bad(`Bearer ${c.staffRefresh}`), bad(`Bearer ${c.bobAccess}`), bad(`Token ${c.bobKey}`),
      bad(`Bearer ${c.ghostAccess}`), bad(`Bearer ${c.expiredAccess}`), bad(`Bearer ${c.ghostRefresh}`),
      // A credential under a scheme it does not belong to, or with a case simplejwt does not accept.
      bad(`Token ${c.aliceAccess}`), bad(`Bearer ${c.aliceKey}`), bad(`JWT ${c.aliceAccess}`), bad(`bearer ${c.aliceAccess}`),
      bad(`BEARER ${c.aliceAccess}`), bad(`Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`), bad(`Digest username="alice"`),
      bad(`Bearer ${c.aliceAccess} ${c.aliceAccess}`), bad(`Token ${c.aliceKey} extra`), bad(`Token ${c.aliceKey.toUpperCase()}`),
      bad(`Token ${c.aliceKey}0`), bad(`Bearer ${c.aliceAccess}x`), bad(`Bearer${c.aliceAccess}`), bad(`Token${c.aliceKey}`),
      bad(''), bad(' '), bad('Bearer'), bad('Bearer '), bad('Token'), bad('Token '), bad('Bearer null'), bad('Bearer undefined'),
      bad('Bearer a.b.c'), bad('Bearer ...'), bad('Bearer e30.e30.'), bad(`Bearer ${'A'.repeat(10240)}`), bad(`Token ${'f'.repeat(10240)}`),
      bad('x'.repeat(10240)), bad(`Bearer ${c.aliceAccess}${'='.repeat(10240 - c.aliceAccess.length)}`), bad('Bearer \u00e9\u00ff'),
      bad('__proto__'), bad('Token __proto__'), bad('Bearer constructor')
    ),
    fc.constantFrom(...c.odd, ...c.forged).map((t) => bad(`Bearer ${t}`)),
    fc.tuple(fc.constantFrom('Bearer', 'Token', 'JWT', 'Basic', 'bearer', 'token', 'Negotiate', ''), fc.constantFrom(' ', '  ', '\t'), headerText(200))
      .map(([scheme, sep, rest]) => bad(`${scheme}${sep}${rest}`)),
    headerText(300).map(bad),
    fc.integer({ min: 1000, max: 10240 }).map((n) => bad(`Bearer ${'x'.repeat(n)}`))
  )
  const none = fc.constant<AuthHeader>({ kind: 'none', value: undefined })
  return secured
    ? fc.oneof({ weight: 5, arbitrary: valid }, { weight: 4, arbitrary: wrong }, { weight: 1, arbitrary: none }, { weight: 1, arbitrary: doubtful })
    : fc.oneof({ weight: 1, arbitrary: valid }, { weight: 2, arbitrary: wrong }, { weight: 4, arbitrary: none })
}

/**
 * Path parameter values the router hands to the route: ids of seeded users, numbers out of every range,
 * garbage, unicode. At most Fastify's maxParamLength (100) characters as sent, and well-formed escapes:
 * past those the router answers before any route runs (see {@link routerErrorParamArb}).
 */
export function pathParamArb (): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('1', '2', '3', '4', '999').map(formEncode) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '0', '-1', '-0', '1.5', '1e3', '01', '00001', '+1', ' 1', '1 ', '0x1', '9007199254740993', '9'.repeat(16), '9'.repeat(40),
        'Infinity', 'NaN', 'null', 'me2', 'Me', '__proto__', 'constructor', '١', '１', 'Ⅰ', '1\u0000', '\u0000', '😀', '...', 'a/b', '1/2', '1;2', '1?x', '1#x',
        '\ud800', '1\udc00'
      ).map(formEncode)
    },
    // Up to 8 code points: at most 96 characters once escaped.
    // (a lone `.` or `..` is a dot segment: clients and URL parsers resolve it to another path).
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }).filter((p) => p !== '.' && p !== '..').map(formEncode) },
    { weight: 1, arbitrary: fc.integer({ min: 33, max: 100 }).map((n) => '1'.repeat(n)) },
    { weight: 1, arbitrary: fc.constantFrom('%252F', '%2F', '%00', '%C3%A9', '%2e%2e%2e') }
  )
}

/** Path parameters the router itself refuses: escapes that are not UTF-8 or not escapes, and over maxParamLength. */
export function routerErrorParamArb (): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('%', '%Z', '%ZZ', '%E0%A4%A', '%ED%A0%80', '%C0%AF', '%FF', '1%', 'a%2'),
    fc.tuple(fc.constantFrom('1', 'a', '%C3%A9', '%F0%9F%98%80'), fc.integer({ min: 101, max: 2000 })).map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length)))
  )
}

export interface FuzzRequest {
  method: string
  url: string
  headers: Record<string, string>
  payload: string | Buffer | undefined
  /** How the body was made (for reading a counterexample). */
  kind: PayloadKind
  auth: AuthKind
  /** The user a valid credential names. */
  user?: number
  /** Sent as a stream with Transfer-Encoding: chunked (no Content-Length). */
  chunked: boolean
}

const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ accept: fc.oneof(fc.constantFrom('text/html', '*/*', 'application/xml', ''), headerText(40)) }) },
  { weight: 1, arbitrary: fc.record({ 'accept-charset': fc.constantFrom('utf-16', 'latin1', 'garbage'), 'accept-language': headerText(40) }) }
)

/** Requests to one operation of the document: its path (with and without the slash), headers and body. */
export function requestArb (op: Operation, w: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const params = fc.tuple(...op.pathParams.map(() => pathParamArb()))
  const query = fc.oneof(
    { weight: 8, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom('?__proto__[polluted]=yes', '?constructor[prototype][polluted]=yes', '?a=%ZZ', '?username=alice&password=x', '?&&', '?a[b][c]=d') }
  )
  return fc.record({
    params,
    slash: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    query,
    auth: authArb(w, op.secured),
    body: payloadArb(op.body, w, op.body !== undefined),
    extra: extraHeaders,
    chunked: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })
  }).map(({ params, slash, query, auth, body, extra, chunked }): FuzzRequest => {
    let i = 0
    let url = op.path.replace(/\{[^}]+\}/g, () => params[i++])
    if (!slash && url.endsWith('/')) url = url.slice(0, -1)
    const headers: Record<string, string> = { ...extra }
    if (auth.value !== undefined) headers.authorization = auth.value
    if (body.contentType !== undefined) headers['content-type'] = body.contentType
    const streamed = chunked && body.payload !== undefined
    if (streamed) headers['transfer-encoding'] = 'chunked'
    return { method: op.method, url: url + query, headers, payload: body.payload, kind: body.kind, auth: auth.kind, chunked: streamed, ...(auth.user === undefined ? {} : { user: auth.user }) }
  })
}

// ---- the checks -------------------------------------------------------------------------------------

const TOKEN_MESSAGE_KEYS = ['message', 'token_class', 'token_type']

/**
 * Problems with a 4xx body, or [] when it is in djoser's shape: DRF's `{detail}`, simplejwt's
 * `{detail, code, messages: [{token_class, token_type, message}]}`, or `{field: [messages]}`.
 */
export function djoserErrorProblems (body: unknown): string[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [`not a JSON object: ${JSON.stringify(body)}`]
  const record = body as Record<string, unknown>
  const keys = Object.keys(record)
  if (typeof record.detail === 'string') {
    const problems: string[] = []
    const extra = keys.filter((k) => !['detail', 'code', 'messages'].includes(k))
    if (extra.length > 0) problems.push(`{detail} with other keys: ${extra.join(', ')}`)
    if ('code' in record && typeof record.code !== 'string') problems.push('code is not a string')
    if ('messages' in record) {
      const messages = record.messages
      const ok = Array.isArray(messages) && messages.every((m) => m !== null && typeof m === 'object' && !Array.isArray(m) &&
        Object.keys(m).sort().join() === TOKEN_MESSAGE_KEYS.join() && Object.values(m).every((x) => typeof x === 'string'))
      if (!ok) problems.push(`messages is not [{token_class, token_type, message}]: ${JSON.stringify(messages)}`)
    }
    return problems
  }
  if (keys.length === 0) return ['an empty object']
  const problems: string[] = []
  for (const key of keys) {
    const value = record[key]
    if (key === '') problems.push('an empty field name')
    if (!Array.isArray(value) || value.length === 0 || !value.every((m) => typeof m === 'string' && m !== '')) {
      problems.push(`${JSON.stringify(key)} is not a list of messages: ${JSON.stringify(value)}`)
    }
  }
  return problems
}

export function isDjoserErrorBody (body: unknown): boolean {
  return djoserErrorProblems(body).length === 0
}

/** Every key of a JSON value, with its depth (0 for the top level). */
function keysOf (value: unknown, depth = 0, out: Array<[string, number]> = []): Array<[string, number]> {
  if (Array.isArray(value)) for (const v of value) keysOf(v, depth + 1, out)
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) { out.push([k, depth]); keysOf(v, depth + 1, out) }
  }
  return out
}

const HASH = /\$argon2|pbkdf2_sha256\$|bcrypt(_sha256)?\$|\$2[aby]\$/

/** Validators of the document's response schemas, local $refs resolved against components.schemas. */
export class ResponseSchemas {
  readonly #ajv = new Ajv({ strict: false, allErrors: true })
  readonly #cache = new Map<string, ValidateFunction | null>()
  readonly #doc: Json

  constructor (doc: Json) {
    this.#doc = doc
    this.#ajv.addSchema({ components: doc.components }, 'openapi')
  }

  /** The validator of `op`'s `status` response, or null when it declares no JSON body. */
  validator (op: Operation, status: number): ValidateFunction | null {
    const key = `${op.method} ${op.path} ${status}`
    if (!this.#cache.has(key)) {
      const schema = this.#doc.paths[op.path][op.method.toLowerCase()].responses[String(status)]?.content?.['application/json']?.schema
      const rewritten = schema === undefined ? undefined : JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'))
      this.#cache.set(key, rewritten === undefined ? null : this.#ajv.compile(rewritten))
    }
    return this.#cache.get(key)!
  }
}

/** Every way an answer can be wrong, or [] when it is fine. */
export function responseProblems (op: Operation, req: FuzzRequest, res: LightMyRequestResponse, schemas: ResponseSchemas): string[] {
  const problems: string[] = []
  const status = res.statusCode
  if (status >= 500) problems.push(`a ${status}`)
  if (status < 200 || (status >= 300 && status < 400)) problems.push(`status ${status}`)
  if (HASH.test(res.body) || HASH.test(JSON.stringify(res.headers))) problems.push('a password hash in the answer')
  if (status >= 200 && status < 300 && !(String(status) in op.responses)) problems.push(`${status} is not a documented answer of ${op.method} ${op.path}`)
  if (status === 204) {
    if (res.body !== '') problems.push(`a 204 with a body: ${res.body.slice(0, 200)}`)
    return problems
  }
  const type = res.headers['content-type']
  if (typeof type !== 'string' || !/^application\/json(;|$)/.test(type)) problems.push(`content-type ${String(type)}`)
  let body: unknown
  try {
    body = JSON.parse(res.body)
  } catch {
    problems.push('the body is not JSON')
    return problems
  }
  if (status >= 400 && status < 500) {
    problems.push(...djoserErrorProblems(body))
    // A field error names a field of the request body (or the whole body).
    if (typeof (body as Json)?.detail !== 'string' && op.body !== undefined && body !== null && typeof body === 'object') {
      const fields = new Set([...Object.keys(op.body.properties ?? {}), 'non_field_errors'])
      const unknown = Object.keys(body).filter((k) => !fields.has(k))
      if (unknown.length > 0) problems.push(`field errors for fields the body does not have: ${unknown.join(', ')}`)
    }
    const nested = keysOf(body).filter(([k, depth]) => depth > 0 && /password/i.test(k))
    if (nested.length > 0) problems.push(`a nested password key: ${nested.map(([k]) => k).join(', ')}`)
    if (status === 401 && res.headers['www-authenticate'] !== 'Bearer realm="api"') problems.push(`a 401 with WWW-Authenticate ${String(res.headers['www-authenticate'])}`)
  }
  if (status >= 200 && status < 300) {
    const keys = keysOf(body).filter(([k]) => /password/i.test(k))
    if (keys.length > 0) problems.push(`a password key in a ${status}: ${keys.map(([k]) => k).join(', ')}`)
  }
  const validate = String(status) in op.responses ? schemas.validator(op, status) : null
  if (validate !== null && !validate(body)) problems.push(`does not match the documented ${status} schema: ${JSON.stringify(validate.errors)}`)
  // Access control: a protected operation answers 401 to anyone without a working credential, and never to someone with one.
  if (op.secured && (req.auth === 'invalid' || req.auth === 'none') && status !== 401) problems.push(`${req.auth === 'none' ? 'no' : 'an invalid'} credential got a ${status}`)
  if (op.secured && req.auth === 'valid' && status === 401) problems.push('a working credential got a 401')
  if (status === 200 && req.user !== undefined) problems.push(...identityProblems(op, req, body, req.user))
  return problems
}

/** A 200 to a known user shows that user (or, for staff, what staff may see), never someone else. */
function identityProblems (op: Operation, req: FuzzRequest, body: Json, user: number): string[] {
  const staff = user === USERS.staff.id
  const name = `${op.method} ${op.path}`
  if (['GET /auth/users/me/', 'PUT /auth/users/me/', 'PATCH /auth/users/me/', 'GET /private'].includes(name) && body?.id !== user) {
    return [`user ${user} was shown user ${String(body?.id)}`]
  }
  if (name === 'GET /auth/users/') {
    const ids = Array.isArray(body) ? body.map((u: Json) => u?.id) : []
    const expected = staff ? Object.values(USERS).map((u) => u.id) : [user]
    if (ids.join() !== expected.join()) return [`user ${user}${staff ? ' (staff)' : ''} was listed users ${ids.join(', ')}`]
  }
  if (name === 'GET /auth/users/{id}/') {
    const param = decodeURIComponent(/^\/auth\/users\/([^/?]*)/.exec(req.url)?.[1] ?? '')
    if (String(body?.id) !== param) return [`/users/${param}/ answered user ${String(body?.id)}`]
    if (!staff && body?.id !== user) return [`user ${user} (not staff) was shown user ${String(body?.id)}`]
  }
  return []
}

/** Own property names of the built-in prototypes, to catch pollution. */
export function prototypeFingerprint (): string {
  return JSON.stringify([Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype, Boolean.prototype]
    .map((p) => Object.getOwnPropertyNames(p).concat(Object.getOwnPropertySymbols(p).map(String)).sort()))
}

/** Names a polluted prototype would show on a fresh object. */
export const POLLUTION_PROBES = ['polluted', 'isStaff', 'is_staff', 'isActive', 'is_active', 'isSuperuser', 'x', 'a', 'yes', 'username', 'password']

/** What app.inject sends for a request: a chunked one as a stream of a few pieces (made anew each time, as values are replayed). */
export function injectPayload (req: FuzzRequest): string | Buffer | Readable | undefined {
  if (!req.chunked || req.payload === undefined) return req.payload
  const bytes = Buffer.from(req.payload)
  const cut = Math.floor(bytes.length / 3)
  return Readable.from([bytes.subarray(0, cut), bytes.subarray(cut, 2 * cut), bytes.subarray(2 * cut)].filter((b) => b.length > 0))
}

export function describe (req: FuzzRequest, res: LightMyRequestResponse): string {
  const body = res.body.length > 600 ? `${res.body.slice(0, 600)}… (${res.body.length} characters)` : res.body
  return `${req.method} ${req.url.length > 200 ? req.url.slice(0, 200) + '…' : req.url} → ${res.statusCode} ${String(res.headers['content-type'])} ${body}`
}

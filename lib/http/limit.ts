import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * What a route spends, and from which budgets (the `rateLimit` option):
 * - `login`: a password login. Every attempt from the address (`perIp`); at the account named in the body,
 *   only the failures (`perAccountFailures`).
 * - `password`: a `current_password` check of the authenticated user (set password, set username, delete):
 *   the same two budgets as `login`, the account being the user's username and email.
 * - `registration`: every registration from the address (`registration`).
 * - `reset`, `activation`: every request from the address (`perIp`) and at the account named in the body
 *   (`perAccount`); each can send a mail.
 */
export type LimitedAction = 'login' | 'password' | 'registration' | 'reset' | 'activation'

export type LimitHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

/**
 * The account(s) a request names, counted in any letter case: a string, a list of strings (all of them are
 * counted), or nothing (only the address is). For `password` it defaults to the user's username and email.
 */
export type AccountOf = (body: Record<string, unknown>, request: FastifyRequest) => unknown

/**
 * Makes the preHandler hooks that limit one route: `preHandler: limit('login', (body) => body.username)`.
 * A `login` or `password` route also runs its password check inside {@link countingFailures}.
 */
export type Limit = (action: LimitedAction, accountOf?: AccountOf) => LimitHook[]

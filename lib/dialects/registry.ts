import type { DialectName } from '../options.js'
import { djRestAuth } from './dj-rest-auth/index.js'
import { djoser } from './djoser/index.js'
import { drfJwt } from './drf-jwt/index.js'
import { sanicJwt } from './sanic-jwt/index.js'
import type { Dialect } from './types.js'

/** Every dialect by the name the `dialect` option takes. A new dialect is a folder and a line here. */
export const DIALECTS: Readonly<Record<DialectName, Dialect<any>>> = { // eslint-disable-line @typescript-eslint/no-explicit-any
  djoser,
  'dj-rest-auth': djRestAuth,
  'drf-jwt': drfJwt,
  'sanic-jwt': sanicJwt
}

import { formatDrfError } from '../../http/drf-errors.js'
import { withChallenge, type ErrorFormatter } from '../../http/wire.js'
import type { ResolvedDjRestAuthOptions } from './options.js'

/**
 * DRF's error shapes as a dj-rest-auth project shows them: `{field: [..]}`, `{non_field_errors: [..]}`,
 * `{detail}`, and simplejwt's `{detail, code[, messages]}` for token errors. A 401 carries the challenge of
 * the first authentication class: simplejwt's `Bearer realm="api"` with JWTs, authtoken's `Token` without.
 */
export function djRestAuthErrorFormatter (dj: Pick<ResolvedDjRestAuthOptions, 'useJwt'>, authHeaderType = 'Bearer'): ErrorFormatter {
  return withChallenge(formatDrfError, dj.useJwt ? `${authHeaderType} realm="api"` : 'Token')
}

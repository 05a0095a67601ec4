import { formatDrfError } from '../../http/drf-errors.js'
import { withChallenge, type ErrorFormatter } from '../../http/wire.js'

/**
 * The one formatter of the djoser + simplejwt dialect: DRF's `{detail}`, `{field: [..]}`, and simplejwt's
 * `{detail, code[, messages]}`; a 401 carries simplejwt's `WWW-Authenticate` challenge.
 */
export function djoserErrorFormatter (authHeaderType: string): ErrorFormatter {
  return withChallenge(formatDrfError, `${authHeaderType} realm="api"`)
}

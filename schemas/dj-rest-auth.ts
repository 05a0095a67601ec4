import { Type, type Static } from '@sinclair/typebox'
import { Body, Field } from './shared.js'

/**
 * The dj-rest-auth 5.x wire schemas (iMerica/dj-rest-auth, with django-allauth for registration and
 * simplejwt for JWTs). Some depend on options (old_password, the login and registration answers), so they
 * are built per registration; `$id`s stay stable for the OpenAPI document.
 */

/** UserDetailsSerializer: pk, username, email, first_name, last_name (pk and email read-only). */
export const DjRestAuthUser = Type.Object({
  pk: Type.Integer(),
  username: Type.String(),
  email: Type.String(),
  first_name: Type.String(),
  last_name: Type.String()
}, { $id: 'DjRestAuthUser', additionalProperties: false })
export type DjRestAuthUser = Static<typeof DjRestAuthUser>

/** TokenSerializer: the DRF authtoken key. */
export const DjRestAuthTokenKey = Type.Object({ key: Type.String() }, { $id: 'DjRestAuthToken', additionalProperties: false })

const EXPIRATION = Type.String({ format: 'date-time' })

/** JWTSerializer (+ JWTSerializerWithExpiration's two fields). `refresh` is "" when JWT_AUTH_HTTPONLY. */
export const DjRestAuthJwt = Type.Object({
  access: Type.String(),
  refresh: Type.String({ description: 'Empty when jwtAuthHttpOnly: the refresh token is then only in its cookie' }),
  user: Type.Ref(DjRestAuthUser),
  access_expiration: Type.Optional(EXPIRATION),
  refresh_expiration: Type.Optional(EXPIRATION)
}, { $id: 'DjRestAuthJwt', additionalProperties: false })

/** The cookie-aware refresh view: access and its expiry; the rotated refresh token unless it is HttpOnly. */
export const DjRestAuthRefreshed = Type.Object({
  access: Type.String(),
  refresh: Type.Optional(Type.String()),
  access_expiration: EXPIRATION,
  refresh_expiration: Type.Optional(EXPIRATION)
}, { $id: 'DjRestAuthRefreshed', additionalProperties: false })

const PASSWORD = Field(4096)
/** Django's SetPasswordForm / PasswordChangeSerializer fields: CharField(max_length=128). */
const FORM_PASSWORD = Field(128)
const NAME = Type.String({ maxLength: 150 })
/** A CharField(required=False, allow_blank=True). */
const BLANKABLE = Type.Optional(Type.String({ maxLength: 4096 }))

export function djRestAuthSchemas (o: { oldPasswordFieldEnabled: boolean }) {
  return {
    Login: Body('DjRestAuthLogin', { username: BLANKABLE, email: Type.Optional(Type.String({ maxLength: 254 })), password: PASSWORD }),
    Logout: Body('DjRestAuthLogout', { refresh: Type.Optional(Type.String({ maxLength: 8192 })) }),
    PasswordReset: Body('DjRestAuthPasswordReset', { email: Field(254) }),
    PasswordResetConfirm: Body('DjRestAuthPasswordResetConfirm', {
      new_password1: FORM_PASSWORD,
      new_password2: FORM_PASSWORD,
      uid: Field(256),
      token: Field(256)
    }),
    PasswordChange: Body('DjRestAuthPasswordChange', {
      ...(o.oldPasswordFieldEnabled ? { old_password: FORM_PASSWORD } : {}),
      new_password1: FORM_PASSWORD,
      new_password2: FORM_PASSWORD
    }),
    /** PUT: username is required; first_name and last_name may be blank; pk and email are read-only. */
    UserUpdate: Body('DjRestAuthUserUpdate', { username: Field(150), first_name: Type.Optional(NAME), last_name: Type.Optional(NAME) }),
    UserPatch: Body('DjRestAuthUserPatch', { username: Type.Optional(Field(150)), first_name: Type.Optional(NAME), last_name: Type.Optional(NAME) }),
    TokenVerify: Body('DjRestAuthTokenVerify', { token: Field(8192) }),
    /** CookieTokenRefreshSerializer: `refresh` may be left out when the refresh cookie carries it. */
    TokenRefresh: Body('DjRestAuthTokenRefresh', { refresh: Type.Optional(Type.String({ maxLength: 8192 })) }),
    Register: Body('DjRestAuthRegister', { username: Field(150), email: Field(254), password1: PASSWORD, password2: PASSWORD }),
    VerifyEmail: Body('DjRestAuthVerifyEmail', { key: Field(512) }),
    ResendEmail: Body('DjRestAuthResendEmail', { email: Field(254) })
  }
}

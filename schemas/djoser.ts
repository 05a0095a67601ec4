import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Body, Field } from './shared.js'
import type { LoginField } from '../lib/options.js'

/**
 * The djoser 2.1 + simplejwt 5.2 wire schemas. Some depend on options (retype fields, the login field),
 * so they are built per registration; `$id`s stay stable for the OpenAPI document.
 */

export const DjoserUser = Type.Object({
  email: Type.String(),
  id: Type.Integer(),
  username: Type.String()
}, { $id: 'DjoserUser', additionalProperties: false })
export type DjoserUser = Static<typeof DjoserUser>

export const DjoserUserList = Type.Array(Type.Ref(DjoserUser), { $id: 'DjoserUserList' })

const PASSWORD = Field(4096)
const USERNAME = Field(150)
const EMAIL = Field(254)

export function djoserSchemas (o: {
  loginField: LoginField
  userCreatePasswordRetype: boolean
  setPasswordRetype: boolean
  passwordResetConfirmRetype: boolean
  setUsernameRetype: boolean
  usernameResetConfirmRetype: boolean
  emailChangeRequiresPassword?: boolean
}) {
  const login = o.loginField
  const loginSchema = login === 'username' ? USERNAME : EMAIL
  const editable = login === 'username' ? 'email' : 'username'
  const editableSchema = login === 'username' ? EMAIL : USERNAME
  // emailChangeRequiresPassword: a new email needs the password (an unchanged one does not, so it stays optional).
  const emailPassword: Record<string, TSchema> = o.emailChangeRequiresPassword === true && editable === 'email'
    ? { current_password: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Required when the email changes (emailChangeRequiresPassword)' })) }
    : {}
  const optional = <T extends ReturnType<typeof Field>>(retype: boolean, schema: T) => retype ? schema : Type.Optional(schema)

  return {
    UserCreate: Body('DjoserUserCreate', {
      username: USERNAME,
      email: EMAIL,
      password: PASSWORD,
      re_password: optional(o.userCreatePasswordRetype, PASSWORD)
    }),
    /** PUT: the editable field is required; the login field and id are read-only and ignored. */
    UserUpdate: Body('DjoserUserUpdate', { [editable]: editableSchema, ...emailPassword }),
    UserPatch: Body('DjoserUserPatch', { [editable]: Type.Optional(editableSchema), ...emailPassword }),
    UserDelete: Body('DjoserUserDelete', { current_password: PASSWORD }),
    Activation: Body('DjoserActivation', { uid: Field(64), token: Field(128) }),
    EmailBody: Body('DjoserEmail', { email: EMAIL }),
    SetPassword: Body('DjoserSetPassword', {
      new_password: PASSWORD,
      current_password: PASSWORD,
      re_new_password: optional(o.setPasswordRetype, PASSWORD)
    }),
    PasswordResetConfirm: Body('DjoserPasswordResetConfirm', {
      uid: Field(64),
      token: Field(128),
      new_password: PASSWORD,
      re_new_password: optional(o.passwordResetConfirmRetype, PASSWORD)
    }),
    SetUsername: Body('DjoserSetUsername', {
      [`new_${login}`]: loginSchema,
      current_password: PASSWORD,
      [`re_new_${login}`]: optional(o.setUsernameRetype, loginSchema)
    }),
    UsernameResetConfirm: Body('DjoserUsernameResetConfirm', {
      uid: Field(64),
      token: Field(128),
      [`new_${login}`]: loginSchema,
      [`re_new_${login}`]: optional(o.usernameResetConfirmRetype, loginSchema)
    }),
    Login: Body('DjoserLogin', { [login]: loginSchema, password: PASSWORD }),
    AuthToken: Type.Object({ auth_token: Type.String() }, { $id: 'DjoserAuthToken', additionalProperties: false }),
    TokenPair: Type.Object({ access: Type.String(), refresh: Type.String() }, { $id: 'SimpleJwtTokenPair', additionalProperties: false }),
    RefreshBody: Body('SimpleJwtRefresh', { refresh: Field(8192) }),
    Refreshed: Type.Object({ access: Type.String(), refresh: Type.Optional(Type.String()) }, { $id: 'SimpleJwtRefreshed', additionalProperties: false }),
    VerifyBody: Body('SimpleJwtVerify', { token: Field(8192) }),
    UserIdParams: Type.Object({ id: Type.String({ maxLength: 32 }) }, { $id: 'DjoserUserIdParams' })
  }
}

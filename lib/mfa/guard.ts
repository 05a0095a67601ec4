import { AccountService, type AccountServiceDeps } from '../accounts.js'
import type { AccountUser, User } from '../ports.js'
import { MfaRequiredError } from './errors.js'
import type { MfaService } from './service.js'

/**
 * The account service with two-factor sign-in enforced where every password login passes: after the
 * password checks out, a user with MFA on gets MfaRequiredError instead of a user to issue tokens for. The
 * routes that know MFA (dj-rest-auth's login/, djoser's jwt/create/ and token/login/, trench's login/)
 * catch it and answer the first step; any other login (another dialect, a host route calling
 * authenticateCredentials) refuses, so no path issues tokens on a password alone. (dj-rest-auth's MFALoginView
 * only guards the login view it replaces, and trench only its own login/: djoser's jwt/create/ beside it
 * still issues tokens there.)
 */
export class MfaGuardedAccountService extends AccountService {
  readonly #mfa: MfaService

  constructor (deps: AccountServiceDeps, mfa: MfaService) {
    super(deps)
    this.#mfa = mfa
  }

  override async authenticateCredentials (...args: Parameters<AccountService['authenticateCredentials']>): Promise<User> {
    const user = await super.authenticateCredentials(...args)
    if (await this.#mfa.isEnabled(user.id)) throw new MfaRequiredError(user)
    return user
  }

  /** The SQL tables cascade; other stores are told here. */
  override async deleteAccount (...args: Parameters<AccountService['deleteAccount']>): Promise<void> {
    await super.deleteAccount(...args)
    const current: AccountUser = args[0]
    await this.#mfa.store.deleteUserMfa(current.id)
  }
}

export type EmailKind = 'activation' | 'confirmation' | 'passwordReset' | 'passwordChanged' | 'usernameReset' | 'usernameChanged' | 'emailChanged'

export interface EmailContext {
  siteName: string
  domain: string
  protocol: 'http' | 'https'
  username: string
  email: string
  /**
   * The link, for activation, passwordReset and usernameReset. Absolute, or relative like djoser's
   * ACTIVATION_URL (`activate/{uid}/{token}`), in which case it is joined to protocol and domain.
   */
  url?: string
  /** For emailChanged (sent to the old address): the new address, already masked with {@link maskEmail}. */
  newEmail?: string
}

export interface RenderedEmail {
  subject: string
  text: string
  html: string
}

/** A paragraph of an email: text, or the action link introduced by a line of text. */
type Block = string | { lead: string, link: string }

const LINK_KINDS: ReadonlySet<EmailKind> = new Set<EmailKind>(['activation', 'passwordReset', 'usernameReset'])

/**
 * An address partly hidden, for a mail to someone who may not own it: `alice@example.com` → `a***e@e***.com`.
 * The first and last letter of the local part (only the first when it has two or fewer), the first letter of
 * the domain and its last label; enough for the owner to recognise the address, not to learn it.
 */
export function maskEmail (email: string): string {
  const at = email.lastIndexOf('@')
  const local = at < 0 ? email : email.slice(0, at)
  const domain = at < 0 ? '' : email.slice(at + 1)
  const chars = [...local]
  const maskedLocal = chars.length <= 2 ? `${chars[0] ?? ''}***` : `${chars[0]}***${chars[chars.length - 1]}`
  if (at < 0) return maskedLocal
  const dot = domain.lastIndexOf('.')
  const name = dot <= 0 ? domain : domain.slice(0, dot)
  const tld = dot <= 0 ? '' : domain.slice(dot)
  return `${maskedLocal}@${[...name][0] ?? ''}***${tld}`
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, c => ESCAPES[c])
}

function absoluteUrl (url: string, ctx: EmailContext): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(url) ? url : `${ctx.protocol}://${ctx.domain}/${url.replace(/^\/+/, '')}`
}

function compose (kind: EmailKind, ctx: EmailContext, link: string): { subject: string, blocks: Block[] } {
  const site = ctx.siteName
  switch (kind) {
    case 'activation':
      return {
        subject: `Account activation on ${site}`,
        blocks: [
          `You are receiving this email because your account on ${site} needs to be activated.`,
          { lead: 'To activate it, please open the following page:', link }
        ]
      }
    case 'confirmation':
      return {
        subject: `${site} - Your account has been created and activated`,
        blocks: ['Your account is activated and ready to use.']
      }
    case 'passwordReset':
      return {
        subject: `Password reset on ${site}`,
        blocks: [
          `You are receiving this email because a password reset was requested for your account on ${site}.`,
          { lead: 'To choose a new password, please open the following page:', link },
          `In case you have forgotten it, your username is: ${ctx.username}`,
          'If you did not ask for this, you can ignore this email: your password stays as it is.'
        ]
      }
    case 'passwordChanged':
      return {
        subject: `${site} - Your password has been changed`,
        blocks: [`The password of your account on ${site} has just been changed.`]
      }
    case 'usernameReset':
      return {
        subject: `Username reset on ${site}`,
        blocks: [
          `You are receiving this email because a username reset was requested for your account on ${site}.`,
          { lead: 'To choose a new username, please open the following page:', link },
          'If you did not ask for this, you can ignore this email: your username stays as it is.'
        ]
      }
    case 'usernameChanged':
      return {
        subject: `${site} - Your username has been changed`,
        blocks: [`The username of your account on ${site} has just been changed; it is now: ${ctx.username}`]
      }
    case 'emailChanged':
      return {
        subject: `${site} - Your email address has been changed`,
        blocks: [
          `The email address of your account on ${site} (username: ${ctx.username}) has just been changed from this address to ${ctx.newEmail ?? 'another one'}.`,
          'Mail about the account, password resets included, now goes to the new address.',
          `If you did not make this change, someone else may be using your account: contact ${site} right away.`
        ]
      }
  }
}

/** Renders one of the emails djoser sends, as a subject with plain-text and HTML bodies. */
export function renderEmail (kind: EmailKind, ctx: EmailContext): RenderedEmail {
  let link = ''
  if (LINK_KINDS.has(kind)) {
    if (ctx.url === undefined || ctx.url === '') throw new TypeError(`the ${kind} email needs a url`)
    link = absoluteUrl(ctx.url, ctx)
  }
  const { subject, blocks } = compose(kind, ctx, link)
  const closing = ['Thanks for using our site!', `The ${ctx.siteName} team`]

  const text = [
    ...blocks.map(b => typeof b === 'string' ? b : `${b.lead}\n${b.link}`),
    ...closing
  ].join('\n\n') + '\n'

  const paragraphs = [
    ...blocks.map(b => typeof b === 'string'
      ? escapeHtml(b)
      : `${escapeHtml(b.lead)}<br>\n<a href="${escapeHtml(b.link)}">${escapeHtml(b.link)}</a>`),
    ...closing.map(escapeHtml)
  ]
  const html = '<!doctype html>\n<html><body>\n' +
    paragraphs.map(p => `<p>${p}</p>\n`).join('') +
    '</body></html>\n'

  return { subject, text, html }
}

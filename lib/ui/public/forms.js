// Building blocks of the pages: elements built with the DOM (text is never parsed as HTML), and forms whose
// every input has its label and a place for the API's error about it.
import { ApiError } from './api.js'

/** `h('p', { class: 'x' }, 'text', child)`: an element; `on*` attributes are listeners; strings become text. */
export function h (tag, attrs = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
  element.append(...children.flat().filter((child) => child !== undefined && child !== null && child !== false))
  return element
}

/** What each API field is, for a person: its label, input type and browser autofill hint. */
export const FIELDS = {
  username: { label: 'Username', autocomplete: 'username' },
  email: { label: 'Email', type: 'email', autocomplete: 'email' },
  password: { label: 'Password', type: 'password', autocomplete: 'current-password' },
  current_password: { label: 'Current password', type: 'password', autocomplete: 'current-password' },
  new_password: { label: 'New password', type: 'password', autocomplete: 'new-password' },
  re_password: { label: 'Password again', type: 'password', autocomplete: 'new-password' },
  re_new_password: { label: 'New password again', type: 'password', autocomplete: 'new-password' },
  new_username: { label: 'New username', autocomplete: 'username' },
  re_new_username: { label: 'New username again', autocomplete: 'username' },
  new_email: { label: 'New email', type: 'email', autocomplete: 'email' },
  re_new_email: { label: 'New email again', type: 'email', autocomplete: 'email' }
}

/**
 * A form posting to the API. `fields` are API field names (see FIELDS), or `{ name, label, ... }` (with
 * `attrs`, more attributes for the input); `send`
 * gets the values and does the call; an ApiError it throws is shown next to the field it names, anything
 * else (`detail`, `non_field_errors`, a uid or token error) at the top of the form.
 */
export function form ({ id, fields = [], submit, send, danger = false, description }) {
  const formError = h('div', { class: 'form-error', id: `${id}-error`, role: 'alert', tabindex: '-1', hidden: true })
  const button = h('button', { type: 'submit', class: danger ? 'danger' : undefined }, submit)
  const rows = fields.map((field) => {
    const spec = typeof field === 'string' ? { name: field, ...FIELDS[field] } : field
    const inputId = `${id}-${spec.name}`
    return h('div', { class: 'field' },
      h('label', { for: inputId }, spec.label),
      h('input', {
        id: inputId,
        name: spec.name,
        type: spec.type ?? 'text',
        autocomplete: spec.autocomplete ?? 'off',
        value: spec.value,
        required: true,
        'aria-describedby': `${inputId}-error`,
        // What a field needs beyond FIELDS' keys (a code field's inputmode, autocapitalize, spellcheck).
        ...spec.attrs
      }),
      h('p', { class: 'field-error', id: `${inputId}-error`, hidden: true })
    )
  })
  // novalidate: the API is the one judge of what is valid, and its messages show in one place.
  const element = h('form', { id, novalidate: true, 'aria-describedby': description ? `${id}-description` : undefined },
    description ? h('p', { id: `${id}-description`, class: 'hint' }, description) : null,
    formError, ...rows, button)

  element.addEventListener('submit', async (event) => {
    event.preventDefault()
    clearErrors(element, formError)
    const values = Object.fromEntries(new FormData(element))
    button.disabled = true
    element.setAttribute('aria-busy', 'true')
    try {
      await send(values)
    } catch (error) {
      showErrors(element, formError, error instanceof ApiError ? error.body : { detail: String(error) })
    } finally {
      button.disabled = false
      element.removeAttribute('aria-busy')
    }
  })
  return element
}

function clearErrors (element, formError) {
  formError.hidden = true
  formError.replaceChildren()
  for (const input of element.querySelectorAll('input')) input.removeAttribute('aria-invalid')
  for (const message of element.querySelectorAll('.field-error')) {
    message.hidden = true
    message.replaceChildren()
  }
}

function messages (value) {
  if (Array.isArray(value)) return value.map(String)
  return typeof value === 'string' ? [value] : []
}

/**
 * 401 bodies carry a machine `code` (a string) and token `messages` beside the `detail` a person reads; a
 * `code` field's errors (a list: MFA's code fields) are for the person.
 */
function machineKey (name, value) {
  return (name === 'code' && !Array.isArray(value)) || name === 'messages'
}

/** Every message of an error body (`{ field: [msg] }`, `{ detail }`, `{ non_field_errors }`), for a place without fields. */
export function bodyMessages (body) {
  return Object.entries(body).filter(([name, value]) => !machineKey(name, value)).flatMap(([, value]) => messages(value))
}

function showErrors (element, formError, body) {
  const general = []
  let first = null
  for (const [name, value] of Object.entries(body)) {
    if (machineKey(name, value)) continue
    const input = element.querySelector(`input[name="${CSS.escape(name)}"]`)
    if (input === null) {
      general.push(...messages(value))
      continue
    }
    const slot = element.querySelector(`#${CSS.escape(input.id)}-error`)
    slot.replaceChildren(...messages(value).map((text) => h('span', {}, text)))
    slot.hidden = false
    input.setAttribute('aria-invalid', 'true')
    first ??= input
  }
  if (general.length > 0) {
    formError.replaceChildren(...general.map((text) => h('p', {}, text)))
    formError.hidden = false
  }
  if (first !== null) first.focus()
  else if (general.length > 0) formError.focus()
}

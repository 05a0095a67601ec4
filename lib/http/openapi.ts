/** The OpenAPI security schemes the routes name when `openApiSecurity` is on; spread into @fastify/swagger's `components`. */
export const securitySchemes = {
  jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Authorization: Bearer <access token>' },
  token: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'Token <key>: an opaque token from a token login' }
} as const

/**
 * @fastify/swagger options for a document of these routes: OpenAPI 3, the security schemes, and each
 * shared schema named after its `$id` (DjoserUser, not def-0). Register it before the plugin.
 */
/**
 * What swaggerOptions() returns: a subset of @fastify/swagger's options, typed here so that importing this
 * package does not bring @fastify/swagger's `app.swagger` into an app's types when the app has no swagger.
 */
export interface AccountsSwaggerOptions {
  openapi: {
    openapi: '3.0.3'
    info: { title: string, version: string, description?: string }
    components: { securitySchemes: { -readonly [K in keyof typeof securitySchemes]: { -readonly [P in keyof typeof securitySchemes[K]]: typeof securitySchemes[K][P] } } }
  }
  refResolver: { buildLocalReference: (json: { $id?: unknown }, baseUri: unknown, fragment: string, i: number) => string }
}

export function swaggerOptions (info: { title: string, version: string, description?: string }): AccountsSwaggerOptions {
  return {
    openapi: { openapi: '3.0.3', info, components: { securitySchemes: { ...securitySchemes } } },
    refResolver: {
      buildLocalReference (json, _baseUri, _fragment, i) {
        return typeof json.$id === 'string' && json.$id !== '' ? json.$id : `def-${i}`
      }
    }
  }
}

/** A route's `security`, or nothing when the host's OpenAPI document does not define the schemes. */
export function securityOf (openApiSecurity: boolean, schemes: Array<keyof typeof securitySchemes>): { security?: Array<Record<string, string[]>> } {
  return openApiSecurity ? { security: schemes.map((scheme) => ({ [scheme]: [] })) } : {}
}

import type { SwaggerOptions } from '@fastify/swagger'

/** The OpenAPI security schemes the routes name when `openApiSecurity` is on; spread into @fastify/swagger's `components`. */
export const securitySchemes = {
  jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Authorization: Bearer <access token>' },
  token: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'Token <key>: an opaque token from a token login' }
} as const

/**
 * @fastify/swagger options for a document of these routes: OpenAPI 3, the security schemes, and each
 * shared schema named after its `$id` (DjoserUser, not def-0). Register it before the plugin.
 */
export function swaggerOptions (info: { title: string, version: string, description?: string }): SwaggerOptions {
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

/** The shapes of an OpenAPI 3.1 document, as far as the admin API's document uses them. */

export type JsonSchema = { [keyword: string]: unknown };

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  description: string;
  schema: JsonSchema;
}

export type OpenApiContent = Record<string, { schema: JsonSchema }>;

export type OpenApiResponse = { description: string; content?: OpenApiContent } | { $ref: string };

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** `[]` on the one route that needs no token (`health`); otherwise the document's bearer token. */
  security?: Record<string, string[]>[];
  parameters?: OpenApiParameter[];
  requestBody?: { required: true; content: OpenApiContent };
  responses: Record<string, OpenApiResponse>;
}

export type HttpMethod = 'get' | 'put' | 'post' | 'delete';

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, Partial<Record<HttpMethod, OpenApiOperation>>>;
  components: {
    securitySchemes: Record<string, JsonSchema>;
    schemas: Record<string, JsonSchema>;
    responses: Record<string, { description: string; content: OpenApiContent }>;
  };
}

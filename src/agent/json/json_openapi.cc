// The OpenAPI 3 document of the pseudonymization and repersonalization listeners (GET /docs).
#include "agent/json/json_service.h"

namespace sdp {

const char* JsonServiceOpenApi() {
  return R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "SDP JSON pseudonymization and repersonalization",
    "version": ")json" SDP_VERSION R"json(",
    "description": "Two listeners on 127.0.0.1: pseudonymization (default port 8001, key SDP_PSEUDONYMIZE_API_KEY) and repersonalization (default port 8002, key SDP_REPERSONALIZE_API_KEY). Errors are RFC 7807 problem documents. See docs/json_pseudonymization.md."
  },
  "servers": [
    {"url": "http://127.0.0.1:8001", "description": "pseudonymization"},
    {"url": "http://127.0.0.1:8002", "description": "repersonalization"}
  ],
  "components": {
    "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
    "schemas": {
      "Problem": {"type": "object", "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"}}},
      "Pseudonymized": {"type": "object", "required": ["pseudonym_id", "pseudonymized_data"], "properties": {
        "pseudonym_id": {"type": "string", "format": "uuid"},
        "pseudonymized_data": {},
        "fields_pseudonymized": {"type": "integer"},
        "expires_at": {"type": "string", "format": "date-time", "nullable": true},
        "processing_time_ms": {"type": "number"}}},
      "RepersonalizeRequest": {"type": "object", "required": ["pseudonym_id", "pseudonymized_data"], "properties": {
        "pseudonym_id": {"type": "string", "format": "uuid"},
        "pseudonymized_data": {"description": "the document pseudonymize returned (records keep only the replaced values)"},
        "verify": {"type": "boolean", "default": true, "description": "refuse (409) a document whose MAC differs"}}},
      "Repersonalized": {"type": "object", "properties": {
        "pseudonym_id": {"type": "string"}, "original_data": {},
        "verified": {"type": "boolean"}, "processing_time_ms": {"type": "number"}}}
    },
    "responses": {
      "Problem": {"description": "RFC 7807 problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    }
  },
  "security": [{"apiKey": []}],
  "paths": {
    "/": {"get": {"summary": "What this listener is", "security": [], "responses": {"200": {"description": "service, version, endpoints"}}}},
    "/health": {"get": {"summary": "Health; on the repersonalization listener also pseudonymization_service_status", "security": [],
      "responses": {"200": {"description": "{\"status\": \"healthy\", ...}"}, "503": {"$ref": "#/components/responses/Problem"}}}},
    "/docs": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {"200": {"description": "text exposition format"}}}},
    "/stats": {"get": {"summary": "Statistics of the listener (total_pseudonymized, or total_repersonalized and success_rate)",
      "responses": {"200": {"description": "{\"statistics\": {...}}"}, "401": {"$ref": "#/components/responses/Problem"}}}},
    "/pseudonymize": {"post": {"summary": "Pseudonymize one document (pseudonymization listener)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {}}}},
      "responses": {"200": {"description": "pseudonymized", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pseudonymized"}}}},
        "401": {"$ref": "#/components/responses/Problem"}, "413": {"$ref": "#/components/responses/Problem"},
        "422": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"}}}},
    "/pseudonymize/bulk": {"post": {"summary": "Pseudonymize many documents; each succeeds or fails on its own",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["datasets"],
        "properties": {"datasets": {"type": "array", "items": {}}, "batch_id": {"type": "string"}}}}}},
      "responses": {"200": {"description": "{\"batch_id\", \"total\", \"successful\", \"failed\", \"results\": [{\"index\", \"success\", \"pseudonym_id\", \"pseudonymized_data\", ... | \"status\", \"error\"}]}"},
        "400": {"$ref": "#/components/responses/Problem"}, "413": {"$ref": "#/components/responses/Problem"}}}},
    "/key/rotate": {"post": {"summary": "Not available over HTTP: rotate offline with sdp-agent vault rotate-key",
      "responses": {"501": {"$ref": "#/components/responses/Problem"}}}},
    "/repersonalize": {"post": {"summary": "Restore one document (repersonalization listener)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RepersonalizeRequest"}}}},
      "responses": {"200": {"description": "restored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Repersonalized"}}}},
        "404": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}}}},
    "/repersonalize/bulk": {"post": {"summary": "Restore many documents",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/RepersonalizeRequest"}},
        "pseudonym_ids": {"type": "array", "items": {"type": "string"}},
        "pseudonymized_datasets": {"type": "array", "items": {}},
        "batch_id": {"type": "string"}, "continue_on_error": {"type": "boolean", "default": true},
        "verify": {"type": "boolean", "default": true}}}}}},
      "responses": {"200": {"description": "{\"batch_id\", \"total\", \"successful\", \"failed\", \"skipped\", \"results\": [...]}"}}}},
    "/verify": {"post": {"summary": "Check a pseudonymized document: MAC against its record, and plaintext left at rule paths",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["pseudonymized_data"],
        "properties": {"pseudonym_id": {"type": "string"}, "pseudonymized_data": {}}}}}},
      "responses": {"200": {"description": "{\"verified\", \"record_found\", \"mac_valid\", \"plaintext_paths\": [RFC 6901 pointers]}"}}}},
    "/cleanup/{id}": {"delete": {"summary": "Crypto-shred a record (refused under legal hold)",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
      "responses": {"200": {"description": "{\"pseudonym_id\", \"cleaned_up\": true}"}, "404": {"$ref": "#/components/responses/Problem"},
        "409": {"$ref": "#/components/responses/Problem"}}}},
    "/hold/{id}": {
      "post": {"summary": "Put a record under legal hold (no expiry, purge or cleanup)",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "responses": {"200": {"description": "{\"pseudonym_id\", \"legal_hold\": true}"}, "404": {"$ref": "#/components/responses/Problem"}}},
      "delete": {"summary": "Release a legal hold",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "responses": {"200": {"description": "{\"pseudonym_id\", \"legal_hold\": false}"}, "404": {"$ref": "#/components/responses/Problem"}}}}
  }
}
)json";
}

}  // namespace sdp

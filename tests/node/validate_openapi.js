// Validate an OpenAPI document with @apidevtools/swagger-parser (its
// schema for the document's version, 3.1 here, and its $refs).
// Usage: node validate_openapi.js FILE; prints "valid" or the errors and
// exits 1.
"use strict";
const SwaggerParser = require("@apidevtools/swagger-parser");

SwaggerParser.validate(process.argv[2])
  .then((api) => {
    console.log("valid " + api.openapi + " " + Object.keys(api.paths).length + " paths");
  })
  .catch((err) => {
    console.log(String(err && err.message ? err.message : err));
    process.exit(1);
  });

// Package docs is the gateway's API documentation: the OpenAPI 3.1 document
// of the public API, embedded in the binary and served as JSON at
// /openapi.json, and an interactive Swagger UI at /docs whose assets are
// served from the binary too, so that the page loads nothing from the
// internet. The end-to-end tests validate every response they see against
// the same document.
package docs

import (
	_ "embed"
	"fmt"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"
	swaggerfiles "github.com/swaggo/files/v2"
)

//go:embed openapi.yaml
var document []byte

// Load parses the embedded document and validates it as OpenAPI 3.1.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate openapi.yaml: %w", err)
	}
	return doc, nil
}

// Routes registers on e GET /openapi.json (the document converted to JSON
// once, here), GET /docs (the Swagger UI page) and GET /docs/*file (its
// assets). It fails when the document is not well-formed YAML.
func Routes(e *gin.Engine) error {
	// Converted keeping the order of every mapping, so that /openapi.json
	// reads as the document was written (Swagger UI lists paths so).
	spec, err := yaml.YAMLToJSON(document)
	if err != nil {
		return fmt.Errorf("openapi.yaml: %w", err)
	}
	e.GET("/openapi.json", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", spec)
	})
	e.GET("/docs", servePage)
	assets := http.FileServerFS(swaggerfiles.FS)
	e.GET("/docs/*file", func(c *gin.Context) {
		switch file := c.Param("file"); file {
		case "/", "/index.html":
			servePage(c)
		case "/swagger-initializer.js":
			// The bundled initializer points at a demo document on the
			// internet; this one points at ours.
			c.Data(http.StatusOK, "text/javascript; charset=utf-8", []byte(initializer))
		default:
			c.Header("Cache-Control", "public, max-age=86400")
			r := c.Request.Clone(c.Request.Context())
			r.URL.Path, r.URL.RawPath = file, ""
			assets.ServeHTTP(c.Writer, r)
		}
	})
	return nil
}

func servePage(c *gin.Context) {
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(page))
}

// page loads Swagger UI from the gateway itself: scripts are files, not
// inline, so that a strict Content-Security-Policy can allow 'self' alone.
const page = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>Support desk API</title>
  <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
</body>
</html>
`

// initializer starts Swagger UI on /openapi.json. validatorUrl is null: by
// default Swagger UI fetches a badge from an online validator.
const initializer = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
};
`

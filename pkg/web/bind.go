package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// MaxBodyBytes bounds a JSON request body.
const MaxBodyBytes = 1 << 20

// BindJSON decodes the JSON body into v, refusing unknown fields, trailing
// data and oversized bodies with a Validation or Invalid fault that names
// the problem.
func BindJSON(c *gin.Context, v any) error {
	if ct := c.ContentType(); ct != "" && ct != "application/json" {
		return fault.Newf(fault.Invalid, "unsupported_media_type", "Content-Type must be application/json, not %s", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeFault(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.New(fault.Invalid, "malformed_json", "The request body must be a single JSON object")
	}
	return nil
}

func decodeFault(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return fault.New(fault.Invalid, "malformed_json", "The request body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return fault.New(fault.Invalid, "malformed_json", "The request body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fault.Newf(fault.Invalid, "malformed_json", "The request body must be a JSON object, not %s", typ.Value)
		}
		return fault.Fields(fault.FieldError{Field: field, Message: fmt.Sprintf("must be a %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)})
	case errors.As(err, &tooBig):
		return fault.Newf(fault.Invalid, "body_too_large", "The request body exceeds %d bytes", MaxBodyBytes)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fault.Fields(fault.FieldError{Field: name, Message: "is not a known field"})
	}
	return fault.New(fault.Invalid, "malformed_json", "The request body could not be read")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}

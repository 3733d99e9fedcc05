package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// MaxBodyBytes bounds a JSON request body.
const MaxBodyBytes = 1 << 20

// BindJSON decodes the JSON body into v, a pointer to a struct, strictly:
// it refuses unknown fields, member names in another letter case than the
// field's (encoding/json would take "Role" for "role"), a member twice in
// one object (encoding/json would keep the last), a string holding NUL
// (which no text column stores), trailing data and oversized bodies, each
// with a Validation or Invalid fault that names the problem.
func BindJSON(c *gin.Context, v any) error {
	if ct := c.ContentType(); ct != "" && ct != "application/json" {
		return fault.Newf(fault.Invalid, "unsupported_media_type", "Content-Type must be application/json, not %s", ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		return decodeFault(err)
	}
	return DecodeStrict(body, v)
}

// DecodeStrict is BindJSON's decoding of a body already read.
func DecodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := checkMembers(dec, reflect.TypeOf(v), nil); err != nil && !errors.Is(err, errSyntax) {
		return err
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeFault(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.New(fault.Invalid, "malformed_json", "The request body must be a single JSON object")
	}
	return nil
}

// errSyntax stops checkMembers at a syntax error, which the decoding then
// reports.
var errSyntax = errors.New("syntax error")

// maxDepth is encoding/json's bound on nesting, which the decoding would
// refuse past anyway.
const maxDepth = 10000

// step is one step of the path to a value: a member name, or an array
// index when index >= 0.
type step struct {
	name  string
	index int
}

// checkMembers reads one JSON value from dec and refuses what encoding/json
// lets through: a member twice in an object, a member named in another
// letter case than t's field, a string holding NUL. t is the Go type the
// value decodes into, when known (nil inside maps and interfaces); path
// leads to the value, and is only rendered for an error (rendering it at
// every level would cost time and memory quadratic in the depth). Nesting
// past maxDepth is refused; at other syntax errors it stops with errSyntax
// (dec.More would keep reporting more elements before a bad byte) and
// leaves them to the decoding.
func checkMembers(dec *json.Decoder, t reflect.Type, path []step) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return errSyntax
	}
	switch tok := tok.(type) {
	case string:
		if strings.ContainsRune(tok, 0) {
			return fault.Fields(fault.FieldError{Field: fieldName(path), Message: "must not contain the NUL character (\\u0000)"})
		}
	case json.Delim:
		if (tok == '{' || tok == '[') && len(path) >= maxDepth {
			return fault.New(fault.Invalid, "malformed_json", "The request body is not valid JSON")
		}
		switch tok {
		case '{':
			fields := jsonFields(t)
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return errSyntax
				}
				key, _ := k.(string)
				member := append(path, step{name: key, index: -1})
				if seen[key] {
					return fault.Fields(fault.FieldError{Field: pathName(member), Message: "appears twice; give each field once"})
				}
				seen[key] = true
				if strings.ContainsRune(key, 0) {
					return fault.Fields(fault.FieldError{Field: "body", Message: "a member name must not contain the NUL character"})
				}
				var ft reflect.Type
				if fields != nil {
					f, ok := fields[key]
					if !ok {
						for exact := range fields {
							if strings.EqualFold(exact, key) {
								return fault.Fields(fault.FieldError{Field: pathName(member), Message: "is not a known field; field names are case-sensitive: " +
									pathName(slices.Concat(path, []step{{name: exact, index: -1}}))})
							}
						}
					}
					ft = f
				} else if t != nil && t.Kind() == reflect.Map {
					ft = t.Elem()
				}
				if err := checkMembers(dec, ft, member); err != nil {
					return err
				}
			}
			_, _ = dec.Token() // '}'
		case '[':
			var et reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				et = t.Elem()
			}
			for i := 0; dec.More(); i++ {
				if err := checkMembers(dec, et, append(path, step{index: i})); err != nil {
					return err
				}
			}
			_, _ = dec.Token() // ']'
		}
	}
	return nil
}

// jsonFields maps the JSON member names of struct type t to their types;
// nil when t is not a struct.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range jsonFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// pathName renders path as errors name a field: "list[1].role".
func pathName(path []step) string {
	var b strings.Builder
	for _, s := range path {
		switch {
		case s.index >= 0:
			fmt.Fprintf(&b, "[%d]", s.index)
		case b.Len() > 0:
			b.WriteString("." + s.name)
		default:
			b.WriteString(s.name)
		}
	}
	return b.String()
}

// fieldName is pathName, or "body" for the body itself.
func fieldName(path []step) string {
	if name := pathName(path); name != "" {
		return name
	}
	return "body"
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

// Bind is BindJSON for a handler: when the body does not bind, it answers
// the problem (logged to logger) and returns false.
func Bind(c *gin.Context, logger *slog.Logger, v any) bool {
	if err := BindJSON(c, v); err != nil {
		Error(c, logger, err)
		return false
	}
	return true
}
